"""File names made from call ids (exports, report pages, staging folders)."""
from __future__ import annotations


def safe_name(call_id: str) -> str:
    """The file-name form of a call id used by exports and reports."""
    return call_id.replace("/", "__").replace("\\", "__")
