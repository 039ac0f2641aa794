"""QA categories applied to the calls already in the warehouse (``callqa rules apply``),
Prefect-free: each call is read back (redacted utterances with roles, times and sentiment,
metrics, duration: nothing is transcribed or analysed again), its category findings are
evaluated with the same function as landing (``analysis.categories.evaluate_categories``) and
replace the ones it had, one batch of calls per transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from analysis.categories import call_view, evaluate_categories
from analysis.rules import Catalog
from warehouse.findings import replace_kinds
from warehouse.scores import call_views
from warehouse.store import Warehouse

logger = logging.getLogger("flows")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying the categories did."""

    categories: tuple[str, ...]
    calls: int        # landed calls evaluated
    removed: int      # category findings they had before
    found: int        # category findings they have now


def apply_categories(db: str | Path, catalog: Catalog, *, batch: int = BATCH) -> Applied:
    """Evaluate ``catalog``'s categories on every landed call of ``db`` and replace each call's
    findings of those kinds (a category no longer configured keeps its old findings).

    Raises:
        warehouse.store.WarehouseBusy: another process is writing the database.
        warehouse.migrate.WarehouseError: not a callqa warehouse (or a newer one).
    """
    kinds = sorted(catalog.categories)
    removed = found = 0
    with Warehouse(db, existing=True) as wh:
        ids = [r[0] for r in wh.con.execute(
            "SELECT call_id FROM calls WHERE status = 'ok' ORDER BY landed_at, call_id").fetchall()]
        for k in range(0, len(ids), batch):
            hits = {}
            for view in call_views(wh.con, ids[k:k + batch]):
                hits[view.call_id] = evaluate_categories(call_view(view.utterances, view.duration, view.metrics),
                                                         catalog)
            gone, added = replace_kinds(wh, hits, kinds)
            removed, found = removed + gone, found + added
    logger.info("categories %s on %d call(s): %d finding(s), %d before", kinds, len(ids), found, removed)
    return Applied(tuple(kinds), len(ids), removed, found)
