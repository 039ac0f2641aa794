"""Small file helpers: content hashes, atomic output files, same-file checks."""
from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def models_dir() -> Path:
    """Where assembled models live: ``$CALLQA_MODELS_DIR`` or ``<project>/models``."""
    env = os.environ.get("CALLQA_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "models"


def bundled_whisper_dir() -> Path:
    """Where the bundled Whisper base is assembled (``callqa models install``)."""
    return models_dir() / "whisper-base"


def sha256_file(path: str | Path, block_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` name the same file (after links, ``..`` and hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def _new_file_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)  # replacing a file: keep its permissions
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_beside(target: Path) -> tuple[int, str]:
    """A new temporary file in ``target``'s folder (created), as (fd, path)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{target.name[:80]}.", suffix=".tmp", dir=target.parent)


@contextlib.contextmanager
def _replacing(target: Path, tmp: str) -> Iterator[None]:
    """Move ``tmp`` over ``target`` (keeping its permissions) when the block succeeds; remove it
    when the block raises."""
    try:
        yield
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it only ever holds the old or the complete new content.

    Writes go to a temporary file in the same folder, which replaces ``path`` (``os.replace``)
    when the block ends without an exception; on an exception the temporary file is removed and
    ``path`` is untouched. Parent folders are created. A ``path`` that exists and is not a
    regular file (``/dev/stdout``, a pipe) is written directly.
    """
    target = Path(path)
    if target.exists() and not target.is_file():
        with open(target, mode, encoding=None if "b" in mode else encoding, newline=newline) as fh:
            yield fh
        return
    fd, tmp = _temp_beside(target)
    with _replacing(target, tmp):
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """``Path.write_text``, atomically (see ``atomic_write``)."""
    with atomic_write(path, encoding=encoding) as fh:
        fh.write(text)


def write_atomic(path: str | Path, data: str | bytes | Callable[[Path], object]) -> None:
    """Write text, bytes, or whatever ``data(tmp_path)`` writes, atomically (see ``atomic_write``)."""
    if isinstance(data, (str, bytes)):
        with atomic_write(path, "w" if isinstance(data, str) else "wb") as fh:
            fh.write(data)
        return
    target = Path(path)
    fd, tmp = _temp_beside(target)
    os.close(fd)
    with _replacing(target, tmp):
        data(Path(tmp))
