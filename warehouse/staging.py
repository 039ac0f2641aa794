"""Per-call results staged as Parquet between the parallel workers and the single writer.

A worker (thread, Dask process, or another machine sharing the folder) writes one folder per
processed call, atomically (written under a temporary name, then renamed); the writer lands
staged calls in batches and deletes their folders once the transaction has committed. A run
that dies after processing but before landing leaves its staged calls behind, and the next
run lands them without transcribing again. Staged text is redacted like the warehouse's.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.domain import ProcessedCall
from core.filenames import safe_name
from warehouse.tables import (CALL_SCORES, calls_table, findings_table, metrics_table, promises_table, scores_table,
                             utterances_tables)

META = "staged.json"
STAGED_TABLES = ("calls", "utterances", "utterances_raw", "findings", "call_metrics", "call_scores", "promises")


@dataclass(slots=True)
class StagedCall:
    """One processed call already turned into Arrow tables (built by the worker, in parallel);
    the single writer only concatenates and inserts. ``calls`` has run_id/landed_at unset."""

    call_id: str
    duration: float
    tables: dict[str, pa.Table]


def stage_call(result: ProcessedCall) -> StagedCall:
    """One processed call as Arrow tables (done by the worker, in parallel with the others)."""
    utterances, raw = utterances_tables([result])
    return StagedCall(result.call.call_id, result.duration, {
        "calls": calls_table([result], None, None),
        "utterances": utterances, "utterances_raw": raw,
        "findings": findings_table([result]), "call_metrics": metrics_table([result]),
        "call_scores": scores_table(result.scores),
        "promises": promises_table([result]),
    })


@dataclass(frozen=True, slots=True)
class StagedRef:
    """Where a staged call lies (what a task returns: no transcript text)."""

    call_id: str
    sha256: str
    duration: float
    path: str


def _folder_name(call_id: str, sha256: str) -> str:
    return f"{safe_name(call_id)}.{sha256[:16]}"


def write_staged(staged: StagedCall, sha256: str, root: str | Path) -> StagedRef:
    """Write a staged call's tables under ``root`` atomically and return its reference."""
    root = Path(root)
    target = root / _folder_name(staged.call_id, sha256)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    for name, table in staged.tables.items():
        pq.write_table(table, tmp / f"{name}.parquet")
    (tmp / META).write_text(json.dumps({"call_id": staged.call_id, "sha256": sha256,
                                        "duration": staged.duration}, ensure_ascii=False))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return StagedRef(staged.call_id, sha256, staged.duration, str(target))


def read_staged(ref: StagedRef) -> StagedCall:
    folder = Path(ref.path)
    tables = {p.stem: pq.read_table(p) for p in folder.glob("*.parquet")}
    tables.setdefault("call_scores", CALL_SCORES.empty_table())  # staged before calls were scored
    return StagedCall(ref.call_id, ref.duration, tables)


def find_staged(root: str | Path) -> dict[tuple[str, str], StagedRef]:
    """Complete staged calls under ``root`` by (call_id, sha256); half-written ones are removed."""
    root = Path(root)
    found: dict[tuple[str, str], StagedRef] = {}
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if folder.name.startswith(".tmp-"):
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found[(meta["call_id"], meta["sha256"])] = StagedRef(meta["call_id"], meta["sha256"], meta["duration"],
                                                             str(folder))
    return found


def remove_staged(refs: list[StagedRef]) -> None:
    for ref in refs:
        shutil.rmtree(ref.path, ignore_errors=True)
