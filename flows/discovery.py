"""Find recordings under an archive folder and attach manifest metadata to them."""
from __future__ import annotations

import csv
import fnmatch
import os
import re
import stat
from dataclasses import replace
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
_STAMP = re.compile(r"(20\d{2})[-_]?([01]\d)[-_]?([0-3]\d)[T_-]?([0-2]\d)[:_-]?([0-5]\d)[:_-]?([0-5]\d)")


def display(path: Path | str) -> str:
    """A path as storable text (undecodable bytes in file names become U+FFFD)."""
    return storable(str(path))


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
    """
    failures: list[Failure] = []
    calls: dict[str, Call] = {}

    def fail(reason: str, message: str, call_id: str | None = None, file: str | None = None) -> None:
        failures.append(Failure(call_id, file, None, "manifest", reason, f"{path.name}: {message}"))

    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
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
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        fail("unreadable_manifest", f"cannot read: {exc}")
    return calls, failures


def _roles(row: dict[str, str]) -> tuple[str, ...] | None:
    if row.get("channel_roles"):
        return tuple(r.strip() for r in re.split(r"[|;/ ]+", row["channel_roles"]) if r.strip())
    pair = (row.get("channel0_role"), row.get("channel1_role"))
    return tuple(r for r in pair if r) if any(pair) else None


def discover(
    archive: str | Path,
    settings: ArchiveSettings,
    *,
    manifest: str | Path | None = None,
    default_tz: str,
) -> tuple[list[Call], list[Failure]]:
    """Every recording under ``archive`` as a Call with content hash and metadata.

    The manifest is ``manifest`` or ``ARCHIVE/manifest.csv`` when present. Files the
    manifest does not list get metadata from their names. The same bytes under two names
    land once: the later name is reported as a duplicate.

    Returns:
        (calls, failures) — failures for unreadable files, duplicates and bad manifest rows.
    """
    root = Path(os.path.abspath(archive))  # stored paths are absolute: reports run from anywhere
    if not root.is_dir():
        raise FileNotFoundError(f"archive folder {root} does not exist")
    manifest_path = Path(manifest) if manifest else root / MANIFEST_NAME
    by_path: dict[str, Call] = {}
    failures: list[Failure] = []
    if manifest or manifest_path.is_file():
        by_path, failures = read_manifest(manifest_path, root, default_tz)
    files = list_recordings(root, settings.patterns, settings.exclude)
    found = {_key(f) for f in files}
    files += [Path(listed) for listed in by_path if listed not in found]
    calls: list[Call] = []
    seen_hash: dict[str, str] = {}
    seen_ids: set[str] = set()
    for file in files:
        base = by_path.get(_key(file))
        call_id = base.call_id if base else call_id_from_path(file, root)
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
        calls.append(replace(base, sha256=digest, size_bytes=size))
    return calls, failures
