"""Reading a few calls' rows from the big per-call tables without scanning them whole.

Every row of a call carries the call's landing number (``land_seq``, migrations 010 and 016),
which grows with landing order, so the rows of calls landed close together lie in few row
groups. Filtering on the calls' range of numbers, given as constants, lets DuckDB skip every
row group whose min/max lies outside it (its zone maps); a filter on ``call_id IN (...)`` alone
reads the whole ``call_id`` column and every other column it returns (measured at 1M calls:
the words of 2,000 calls' utterances in 0.24 s instead of 14 s).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb


def rows_of_calls(con: duckdb.DuckDBPyConnection, call_ids: Iterable[str], alias: str = "") -> tuple[str, list[Any]]:
    """A SQL condition (no leading AND) and its parameters keeping the rows of ``call_ids`` in
    a table with ``call_id`` and ``land_seq`` (``alias``: the table's alias in the query).
    Calls landed before landing numbers existed are found by id alone."""
    ids = sorted(set(call_ids))
    col = f"{alias}." if alias else ""
    by_id = f"{col}call_id IN (SELECT unnest(?))"
    lo, hi, unnumbered = con.execute(
        "SELECT min(land_seq), max(land_seq), count(*) FILTER (WHERE land_seq IS NULL) FROM calls"
        " WHERE call_id IN (SELECT unnest(?))", [ids]).fetchone()
    if lo is None or unnumbered:
        return by_id, [ids]
    return f"{col}land_seq BETWEEN ? AND ? AND {by_id}", [lo, hi, ids]
