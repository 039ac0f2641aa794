"""What a night reads: only new or changed recordings, and only their rows of the warehouse.

``discover_night`` lists the archive (or just the manifest's files), pruned to dated folders
from ``since`` on, and looks up the stored fingerprints (sha256, size, mtime) of just the paths
it found: a file unchanged since it landed or failed is not read again. The database is opened
only for that lookup (read-only), so readers are not kept out while new files are hashed.
``open_when_free`` opens the database for writing, waiting while readers have it open.
Prefect-free.
"""
from __future__ import annotations

import logging
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.settings import Settings
from flows.discovery import Discovery, Stored, discover_archive, parse_since
from warehouse.store import Warehouse, WarehouseBusy

READER_WAIT_S = 600.0   # how long a run waits for readers to close the database before giving up
logger = logging.getLogger("callqa.flows")


def since_date(since: str | date | None, settings: Settings) -> date | None:
    """``since`` as a date; ``today``, ``yesterday`` and ``Nd`` count in the configured default
    time zone (the one folders are dated in). Raises ValueError."""
    if since is None or isinstance(since, date):
        return since
    return parse_since(since, datetime.now(ZoneInfo(settings.compliance.default_timezone)).date())


def stored_in(db: str | Path) -> Stored:
    """The fingerprint lookup of ``discover_archive`` against ``db`` (``Warehouse.stored_files``),
    opening the database read-only just for it."""

    def stored(paths: list[str]) -> dict[str, tuple[str, int | None, int | None]]:
        if not Path(db).exists():
            return {}
        with open_when_free(db, read_only=True) as wh:
            return wh.stored_files(paths)

    return stored


def discover_night(archive: str | Path, settings: Settings, db: str | Path, *, manifest: str | Path | None = None,
                   since: date | None = None, manifest_only: bool = False) -> Discovery:
    """``discover_archive`` reading only new or changed files (fingerprints stored in ``db``)."""
    return discover_archive(archive, settings.archive, manifest=manifest,
                            default_tz=settings.compliance.default_timezone, stored=stored_in(db), since=since,
                            manifest_only=manifest_only)


TRY_OPEN_S = 0.5  # how long a batch keeps trying before it waits for the next one


def try_open(db: str | Path, wait_s: float = TRY_OPEN_S) -> Warehouse | None:
    """The database opened for writing, or None while another process (a reader) keeps it open
    for ``wait_s``: a reader polling the database (a dashboard) holds it for moments at a time,
    and one attempt alone could miss every gap between them until the run's last batch."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return Warehouse(db)
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                return None
        time.sleep(0.02)


def open_when_free(db: str | Path, log: Any = logger, wait_s: float = READER_WAIT_S, *,
                   read_only: bool = False) -> Warehouse:
    """The database opened for writing (or reading), waiting up to ``wait_s`` while other
    processes have it open (readers keep a writer out; a writer keeps everyone out).

    Raises:
        WarehouseBusy: still in use after ``wait_s`` (or another run holds its run lock).
    """
    deadline = time.monotonic() + wait_s
    pause, warned = 0.05, False
    while True:
        try:
            return Warehouse(db, read_only=read_only)
        except WarehouseBusy as exc:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"{exc} (waited {wait_s:.0f} s for it to be closed)") from exc
            if not warned:
                log.warning("database %s is open in another process (a reader?); waiting up to %.0f s", db, wait_s)
                warned = True
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
