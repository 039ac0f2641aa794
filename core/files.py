"""Small file helpers: content hashes, atomic output files, same-file checks."""
from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:80]}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """``Path.write_text``, atomically (see ``atomic_write``)."""
    with atomic_write(path, encoding=encoding) as fh:
        fh.write(text)
