"""Re-score stored calls when a scorecard changes (``callqa score``), Prefect-free.

Reads each call back from the warehouse (utterances, findings, metrics as landed: nothing is
transcribed or analysed again), scores it with the same function as landing
(``analysis.scorecards.score_call``) and replaces its ``call_scores`` row, one batch per
transaction: a killed run leaves whole batches, and the next one carries on with the calls
still at another version.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from analysis.scorecards import Scorecard, score_call
from warehouse.scores import call_views, calls_to_score, replace_scores
from warehouse.store import Warehouse

logger = logging.getLogger("flows")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Rescored:
    """What one scorecard's re-scoring did."""

    scorecard: str
    version: str
    scored: int       # calls (re-)scored now
    current: int      # landed calls already at this version, left as they were


def rescore(db: str | Path, scorecards: list[Scorecard], *, every: bool = False, batch: int = BATCH) -> list[Rescored]:
    """Score the landed calls of ``db`` whose stored score for each scorecard is of another
    version or missing (``every``: all of them), in batches of ``batch`` calls, one transaction each.

    Raises:
        warehouse.store.WarehouseBusy: another process is writing the database.
        warehouse.migrate.WarehouseError: not a callqa warehouse (or a newer one).
    """
    done = []
    with Warehouse(db, existing=True) as wh:
        landed = wh.con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
        for card in scorecards:
            todo = calls_to_score(wh.con, card.name, card.version, every=every)
            for k in range(0, len(todo), batch):
                views = call_views(wh.con, todo[k:k + batch])
                replace_scores(wh, [score_call(card, view) for view in views])
            logger.info("scorecard %s version %s: %d call(s) scored", card.name, card.version, len(todo))
            done.append(Rescored(card.name, card.version, len(todo), landed - len(todo)))
    return done
