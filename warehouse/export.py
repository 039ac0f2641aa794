"""Export the warehouse: Parquet partitioned by call date, and per-call RTTM and WebVTT."""
from __future__ import annotations

from pathlib import Path

from core.domain import Utterance
from core.formats import to_rttm, to_vtt
from core.filenames import safe_name
from warehouse.artifacts import register_artifact
from warehouse.store import Warehouse

CALL_DATE = "coalesce(timezone(coalesce(c.timezone, 'UTC'), c.started_at)::DATE, c.landed_at::DATE)"
EXPORTS = {
    "calls": "SELECT c.*, {d} AS call_date FROM calls c WHERE c.status = 'ok'",
    "utterances": "SELECT u.*, {d} AS call_date FROM utterances u JOIN calls c USING (call_id)",
    "findings": "SELECT f.*, {d} AS call_date FROM findings f JOIN calls c USING (call_id)",
    "call_metrics": "SELECT m.*, {d} AS call_date FROM call_metrics m JOIN calls c USING (call_id)",
}


def export(db: str | Path, out: str | Path) -> dict[str, int]:
    """Write ``OUT/parquet/<table>/call_date=YYYY-MM-DD/*.parquet`` and ``OUT/rttm``, ``OUT/vtt``.

    Only redacted text is exported. Returns rows written per table and the number of calls.
    """
    out = Path(out)
    counts: dict[str, int] = {}
    (out / "parquet").mkdir(parents=True, exist_ok=True)
    with Warehouse(db, read_only=True) as wh:
        con = wh.con
        for name, sql in EXPORTS.items():
            target = out / "parquet" / name
            query = sql.format(d=CALL_DATE)
            counts[name] = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            if counts[name]:
                con.execute(f"COPY ({query}) TO '{target.as_posix()}' "
                            "(FORMAT parquet, PARTITION_BY (call_date), OVERWRITE true)")
        rows = con.execute(
            "SELECT call_id, speaker, role, start_s, end_s, text FROM utterances ORDER BY call_id, idx").fetchall()
        ok = [r[0] for r in con.execute("SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id").fetchall()]
    by_call: dict[str, list[Utterance]] = {cid: [] for cid in ok}
    for call_id, speaker, role, start, end, text in rows:
        by_call.setdefault(call_id, []).append(Utterance(speaker=speaker, role=role, start=start, end=end, text=text))
    for sub in ("rttm", "vtt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for call_id, utterances in by_call.items():
        name = safe_name(call_id)
        (out / "rttm" / f"{name}.rttm").write_text(to_rttm(utterances, name), encoding="utf-8")
        (out / "vtt" / f"{name}.vtt").write_text(to_vtt(utterances), encoding="utf-8")
    counts["calls_with_transcripts"] = len(by_call)
    with Warehouse(db) as wh:
        register_artifact(wh, out, "export")
    return counts
