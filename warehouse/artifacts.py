"""Folders outside the database that hold copies of call data (staging, exports, reports),
recorded so that a purge reaches them."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from warehouse.store import Warehouse


def register_artifact(wh: Warehouse, path: str | Path, kind: str) -> None:
    """Remember a folder that holds copies of call data, so purges can clean it."""
    path = str(Path(path).resolve())
    wh.con.execute("DELETE FROM artifacts WHERE path = ?", [path])
    wh.con.execute("INSERT INTO artifacts VALUES (?, ?, ?)", [path, kind, datetime.now(timezone.utc)])


def registered_artifacts(wh: Warehouse) -> list[tuple[Path, str]]:
    """(folder, kind) of every registered folder."""
    return [(Path(p), k) for p, k in wh.con.execute("SELECT path, kind FROM artifacts").fetchall()]
