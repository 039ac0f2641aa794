"""Find recordings under an archive folder and attach manifest metadata to them."""
from __future__ import annotations

import codecs
import csv
import fnmatch
import io
import os
import re
import stat
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.domain import ROLES, Call, Failure, storable
from core.files import sha256_file
from core.settings import ArchiveSettings

MANIFEST_NAME = "manifest.csv"
MANIFEST_REQUIRED = ("path",)
MANIFEST_COLUMNS = ("call_id", "path", "collector_id", "account_id", "started_at", "timezone",
                    "direction", "campaign", "team", "channel0_role", "channel1_role", "channel_roles")
MAX_CALL_ID = 200
MANIFEST_ENCODINGS = "UTF-8 (with or without BOM), UTF-16 (with BOM) or GB18030"
_ID_BAD_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}   # control characters (NUL, newline, tab, ...), line breaks
_STAMP = re.compile(r"(20\d{2})[-_]?([01]\d)[-_]?([0-3]\d)[T_-]?([0-2]\d)[:_-]?([0-5]\d)[:_-]?([0-5]\d)")


def display(path: Path | str) -> str:
    """A path as storable text (undecodable bytes in file names become U+FFFD)."""
    return storable(str(path))


def call_id_problem(call_id: str) -> str | None:
    """Why ``call_id`` cannot be used as a call id (None when it can): 1-200 characters,
    none of them control characters or line breaks."""
    if not call_id.strip():
        return "empty"
    if len(call_id) > MAX_CALL_ID:
        return f"{len(call_id)} characters long (at most {MAX_CALL_ID})"
    bad = sorted({f"U+{ord(ch):04X}" for ch in call_id if unicodedata.category(ch) in _ID_BAD_CATEGORIES})
    if bad:
        return f"holds control character(s) {', '.join(bad)}"
    return None


def _printable(text: str) -> str:
    """``text`` with control characters and line breaks written as escapes (for messages)."""
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in _ID_BAD_CATEGORIES else ch for ch in text)


def decode_manifest(raw: bytes) -> tuple[str, str]:
    """A manifest's text and the encoding it was read with.

    UTF-8 with a BOM, UTF-16 with a BOM (Excel's "Unicode text"), UTF-16 without one (many NUL
    bytes, at every other position), plain UTF-8, else GB18030 (a superset of GBK/GB2312: Excel
    on Chinese Windows). Raises ValueError naming the encodings tried when none decodes.
    """
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", "strict"), "utf-8-sig"
    candidates = ["utf-8", "gb18030"]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif raw[:4096].count(0) * 10 >= len(raw[:4096]):  # ASCII in UTF-16: every other byte is NUL
        head = raw[:4096]
        candidates.insert(0, "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be")
    for encoding in candidates:
        try:
            return raw.decode(encoding, "strict"), encoding
        except UnicodeDecodeError:
            continue
    raise ValueError(f"not text in {MANIFEST_ENCODINGS}; save it as \"CSV UTF-8\"")


def _delimiter(text: str) -> str:
    """Comma, or the tab (Excel's "Unicode text") or semicolon of a header without commas."""
    header = text.split("\n", 1)[0]
    return next((d for d in (",", "\t", ";") if d in header), ",")


def _key(path: Path) -> str:
    """A comparable identity for a path (never raises, even on link loops)."""
    return os.path.realpath(path)


def _matches(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    lower = name.lower()
    return any(fnmatch.fnmatchcase(lower, p.lower()) for p in patterns)


def list_recordings(archive: Path, patterns: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[Path]:
    """Audio files under ``archive`` (recursively, symlinked folders not followed), sorted."""
    found = []
    for root, dirs, files in os.walk(archive, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if _matches(name, patterns) and not _matches(name, exclude):
                found.append(Path(root) / name)
    return sorted(found)


def call_id_from_path(path: Path, archive: Path) -> str:
    """The path under the archive without its extension, e.g. ``2026/11/02/c123``."""
    rel = path.relative_to(archive) if path.is_relative_to(archive) else Path(path.name)
    return display(rel.with_suffix("").as_posix())


def started_at_from_name(name: str, tz: str) -> datetime | None:
    """A timestamp such as 20261102T101500 or 2026-11-02_10-15-00 in a file name."""
    m = _STAMP.search(name)
    if not m:
        return None
    try:
        return datetime(*map(int, m.groups()), tzinfo=ZoneInfo(tz))
    except (ValueError, ZoneInfoNotFoundError):
        return None


def parse_started_at(value: str, tz: str) -> datetime:
    """ISO-8601 time; a value without offset is local time in ``tz``. Raises ValueError."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def read_manifest(path: Path, archive: Path, default_tz: str) -> tuple[dict[str, Call], list[Failure]]:
    """Parse a manifest CSV into Calls keyed by real file path.

    Columns: call_id, path (relative to the manifest's folder or the archive), collector_id,
    account_id, started_at (ISO-8601), timezone, direction, campaign, team, and the channel
    roles as channel0_role/channel1_role or channel_roles ("collector|customer").
    Only ``path`` is required. Bad rows become Failures; the good rows are still used.
    The encoding is detected (``decode_manifest``): Excel's GBK and UTF-16 files are read too.
    """
    failures: list[Failure] = []
    calls: dict[str, Call] = {}

    def fail(reason: str, message: str, call_id: str | None = None, file: str | None = None) -> None:
        if call_id and call_id_problem(call_id):
            call_id = None  # reported as bad_call_id by discovery; never stored as an id
        failures.append(Failure(call_id, file, None, "manifest", reason, f"{path.name}: {message}"))

    try:
        text, _ = decode_manifest(path.read_bytes())
    except (OSError, ValueError) as exc:
        fail("unreadable_manifest", f"cannot read: {getattr(exc, 'strerror', None) or exc}")
        return calls, failures
    try:
        with io.StringIO(text, newline="") as fh:
            reader = csv.DictReader(fh, delimiter=_delimiter(text))
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in MANIFEST_REQUIRED if c not in header]
            if missing:
                fail("missing_columns", f"missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}."
                     " Metadata falls back to file names.")
                return calls, failures
            unknown = [h for h in header if h and h not in MANIFEST_COLUMNS]
            if unknown:
                fail("unknown_columns", f"ignored unknown column(s) {', '.join(unknown)}")
            for lineno, row in enumerate(reader, start=2):
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                rel = row.get("path", "")
                if not rel:
                    fail("missing_path", f"line {lineno}: empty path")
                    continue
                file = next((p for p in (path.parent / rel, archive / rel) if p.is_file()), None)
                call_id = row.get("call_id") or Path(rel).stem
                if file is None:
                    fail("path_not_found", f"line {lineno}: {rel} is not a file under {display(path.parent)}"
                         f" or {display(archive)}", call_id, rel)
                    continue
                tz = row.get("timezone") or default_tz
                try:
                    ZoneInfo(tz)
                except (ZoneInfoNotFoundError, ValueError):
                    fail("bad_timezone", f"line {lineno}: unknown timezone {tz!r}; using {default_tz}", call_id, rel)
                    tz = default_tz
                started = None
                if row.get("started_at"):
                    try:
                        started = parse_started_at(row["started_at"], tz)
                    except ValueError:
                        fail("bad_timestamp", f"line {lineno}: started_at {row['started_at']!r} is not ISO-8601"
                             " (e.g. 2026-11-02T10:15:00+08:00); left empty", call_id, rel)
                roles = _roles(row)
                if roles and any(r not in ROLES for r in roles):
                    fail("bad_roles", f"line {lineno}: channel roles {roles} must be among {', '.join(ROLES)}",
                         call_id, rel)
                    roles = None
                calls[_key(file)] = Call(
                    call_id=call_id, path=str(file), collector_id=row.get("collector_id") or None,
                    account_id=row.get("account_id") or None, started_at=started, timezone=tz,
                    direction=row.get("direction") or None, campaign=row.get("campaign") or None,
                    team=row.get("team") or None, channel_roles=roles,
                )
    except csv.Error as exc:
        fail("unreadable_manifest", f"cannot read: {exc}")
    return calls, failures


def _roles(row: dict[str, str]) -> tuple[str, ...] | None:
    if row.get("channel_roles"):
        return tuple(r.strip() for r in re.split(r"[|;/ ]+", row["channel_roles"]) if r.strip())
    pair = (row.get("channel0_role"), row.get("channel1_role"))
    return tuple(r for r in pair if r) if any(pair) else None


@dataclass(slots=True)
class Discovery:
    """What ``discover_archive`` found: calls (with content hash and metadata), failures, and the
    ids of the calls the manifest names (its ids and metadata win over earlier ones)."""

    calls: list[Call]
    failures: list[Failure]
    named: set[str]


def discover(
    archive: str | Path,
    settings: ArchiveSettings,
    *,
    manifest: str | Path | None = None,
    default_tz: str,
) -> tuple[list[Call], list[Failure]]:
    """``discover_archive`` as (calls, failures)."""
    found = discover_archive(archive, settings, manifest=manifest, default_tz=default_tz)
    return found.calls, found.failures


def discover_archive(
    archive: str | Path,
    settings: ArchiveSettings,
    *,
    manifest: str | Path | None = None,
    default_tz: str,
    prefer: Collection[str] = (),
) -> Discovery:
    """Every recording under ``archive`` as a Call with content hash and metadata.

    The manifest is ``manifest`` or ``ARCHIVE/manifest.csv`` when present. Files the
    manifest does not list get metadata from their names. The same bytes under two names
    land once: the later name is reported as a duplicate; files whose path is in ``prefer``
    (the stored paths of landed calls) come first, so a landed file keeps its call.
    Call ids (from the manifest or the file name) must pass ``call_id_problem``: a bad one is
    a ``bad_call_id`` failure and the file is not processed.
    """
    root = Path(os.path.abspath(archive))  # stored paths are absolute: reports run from anywhere
    if not root.is_dir():
        raise FileNotFoundError(f"archive folder {root} does not exist")
    manifest_path = Path(os.path.abspath(manifest)) if manifest else root / MANIFEST_NAME
    by_path: dict[str, Call] = {}
    failures: list[Failure] = []
    if manifest or manifest_path.is_file():
        by_path, failures = read_manifest(manifest_path, root, default_tz)
    files = list_recordings(root, settings.patterns, settings.exclude)
    found = {_key(f) for f in files}
    files += [Path(listed) for listed in by_path if listed not in found]
    if prefer:
        preferred = set(prefer)
        files.sort(key=lambda f: str(f) not in preferred)  # stable: otherwise in name order
    calls: list[Call] = []
    named: set[str] = set()
    seen_hash: dict[str, str] = {}
    seen_ids: set[str] = set()
    for file in files:
        base = by_path.get(_key(file))
        call_id = base.call_id if base else call_id_from_path(file, root)
        problem = call_id_problem(call_id)
        if problem:
            failures.append(Failure(None, display(file), None, "discover", "bad_call_id",
                                    f"{_printable(display(file))}: call id {_printable(call_id[:60])}"
                                    f"{'...' if len(call_id) > 60 else ''} is {problem}; fix its manifest row or"
                                    " rename the file. Not processed"))
            continue
        try:
            info = file.stat()  # follows links: a link loop raises here
            if not stat.S_ISREG(info.st_mode):
                failures.append(Failure(call_id, display(file), None, "discover", "not_a_file",
                                        "not a regular file (pipe, device or folder); skipped"))
                continue
            if not os.access(file, os.R_OK):
                raise PermissionError(13, "permission denied")
            digest = sha256_file(file)
            size = info.st_size
        except OSError as exc:
            failures.append(Failure(call_id, display(file), None, "discover", "unreadable",
                                    f"cannot read file: {exc.strerror or exc}", deterministic=False))
            continue
        if digest in seen_hash:
            failures.append(Failure(call_id, display(file), digest, "discover", "duplicate",
                                    f"same audio as call {seen_hash[digest]}; landed once under that id"))
            continue
        if call_id in seen_ids:
            failures.append(Failure(call_id, display(file), digest, "discover", "duplicate_call_id",
                                    f"call id {call_id} is used by another file; rename or list it in the manifest"))
            continue
        seen_hash[digest] = call_id
        seen_ids.add(call_id)
        if base is None:
            base = Call(call_id=call_id, path=str(file), timezone=default_tz,
                        started_at=started_at_from_name(file.name, default_tz))
        else:
            named.add(call_id)
        calls.append(replace(base, sha256=digest, size_bytes=size))
    return Discovery(calls, failures, named)
