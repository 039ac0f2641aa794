"""Small file helpers shared by discovery and model installation."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, block_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()
