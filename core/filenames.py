"""File names made from call ids (exports, report pages, staging folders)."""
from __future__ import annotations

import hashlib
import unicodedata

STEM_BYTES = 100          # the readable part, in UTF-8 bytes (file names hold 255 bytes)
_WINDOWS_RESERVED = set('<>:"|?*')
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}   # control, format, surrogate, unassigned, breaks


def _readable(ch: str) -> str:
    if ch.isspace() or ch in _WINDOWS_RESERVED or unicodedata.category(ch) in _BAD_CATEGORIES:
        return "_"
    return ch


def safe_name(call_id: str) -> str:
    """The file-name form of a call id used by exports, reports and staging.

    A readable stem (path separators as ``__``; control, format and whitespace characters and
    ``<>:"|?*`` as ``_``; no leading dot; at most 100 UTF-8 bytes) plus ``-`` and the first 8
    hex digits of the SHA-256 of the exact call id, so two ids never share a file:
    ``a/b`` -> ``a__b-<hash>`` and ``a__b`` -> ``a__b-<other hash>``.
    """
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    stem = "".join(_readable(ch) for ch in call_id.replace("/", "__").replace("\\", "__"))
    stem = stem.encode("utf-8")[:STEM_BYTES].decode("utf-8", "ignore")  # never half a character
    stem = stem.lstrip(".").rstrip(". ")
    return f"{stem or 'call'}-{digest}"
