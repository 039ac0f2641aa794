"""CSV files that spreadsheets open as data, never as formulas (OWASP "CSV injection").

A cell that starts with ``= + - @``, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)`` from a manifest value, say). Every CSV
callqa writes goes through ``write_csv``, which prefixes such cells with a single quote
(shown as text, not stored by the spreadsheet); ``restore_cell`` undoes it on import, so a
file written here reads back to the same values. Cells that start with a quote are quoted
too, which keeps the mapping reversible.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.files import atomic_write

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def neutralise_cell(value: Any) -> str:
    """A cell's text with a leading single quote when a spreadsheet would run it (None is "")."""
    text = "" if value is None else str(value)
    return _QUOTE + text if text.startswith(FORMULA_START + (_QUOTE,)) else text


def restore_cell(text: Any) -> Any:
    """The value ``neutralise_cell`` was given (a cell saved back by a spreadsheet, which drops
    the quote, is returned as it is; anything but text too)."""
    if isinstance(text, str) and len(text) > 1 and text[0] == _QUOTE and text[1:].startswith(FORMULA_START + (_QUOTE,)):
        return text[1:]
    return text


def write_csv(path: str | Path, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows (dicts; missing keys empty) as UTF-8 CSV, every cell neutralised, atomically.

    Returns the number of data rows written.
    """
    columns = list(columns)
    n = 0
    with atomic_write(path, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise_cell(c) for c in columns])
        for row in rows:
            writer.writerow([neutralise_cell(row.get(c)) for c in columns])
            n += 1
    return n
