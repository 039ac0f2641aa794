"""Synthetic warehouses of many calls for the report-scale tests and bench/report_scale.py
(helpers only, no tests here).

Calls are built with tests.helpers.warehouse_data.processed() and landed through the real
landing code (warehouse.store.Warehouse.land), spread evenly over ``days`` local days ending at
``end`` and landed day by day as a nightly run would. Ids follow callqa's default (the archive
path without extension, ``YYYY/MM/DD/cNNNNNNN``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain import Finding, ProcessedCall
from tests.helpers.warehouse_data import processed
from warehouse.store import Warehouse

TZ = "Asia/Shanghai"


def spread_call(i: int, day: date, *, flagged: bool, n_utts: int = 4) -> ProcessedCall:
    """Call number ``i`` on local ``day`` (between 09:00 and 19:00 Shanghai time). Flagged: the
    customer's abuse finding of processed() (medium); otherwise only an info finding."""
    result = processed(f"{day:%Y/%m/%d}/c{i:07d}", f"{i:064x}", n_utts=n_utts)
    started = datetime.combine(day, time(9, 0), ZoneInfo(TZ)) + timedelta(minutes=(i * 7) % 600)
    call = dataclasses.replace(result.call, started_at=started, collector_id=f"C{i % 40:02d}",
                               account_id=f"A{i:07d}", team=f"T{i % 4}", campaign=("card", "loan")[i % 2])
    findings = result.findings if flagged else [
        Finding("identity_disclosure", "collector", 0.0, 1.5, "您好0", "steps.identity", 0.8, "info", 0)]
    return dataclasses.replace(result, call=call, findings=findings)


def spread_calls(n: int, end: date, *, days: int = 60, flagged_every: int = 100,
                 n_utts: int = 4) -> Iterator[ProcessedCall]:
    """``n`` calls over the ``days`` local days ending at ``end``, in time order; every
    ``flagged_every``-th call is flagged."""
    first = end - timedelta(days=days - 1)
    for i in range(n):
        yield spread_call(i, first + timedelta(days=i * days // n), flagged=i % flagged_every == 0, n_utts=n_utts)


def land_spread(db: str | Path, n: int, end: date, *, days: int = 60, flagged_every: int = 100,
                n_utts: int = 4, batch: int = 5000) -> Path:
    """Land spread_calls() into ``db`` (created), ``batch`` calls per transaction."""
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        chunk: list[ProcessedCall] = []
        for result in spread_calls(n, end, days=days, flagged_every=flagged_every, n_utts=n_utts):
            chunk.append(result)
            if len(chunk) == batch:
                wh.land(chunk, [], run)
                chunk = []
        wh.land(chunk, [], run)
        wh.finish_run(run, discovered=n, skipped=0, landed=n, failed=0, audio_seconds=0.0)
    return Path(db)
