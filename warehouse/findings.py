"""Replace the findings of some kinds for landed calls (QA categories applied to an existing
warehouse, without re-transcribing): one transaction per batch, parameterised SQL, Arrow."""
from __future__ import annotations

import pyarrow as pa

from core.domain import Finding
from warehouse.store import Warehouse
from warehouse.tables import FINDINGS


def replace_kinds(wh: Warehouse, found: dict[str, list[Finding]], kinds: list[str]) -> tuple[int, int]:
    """For every call in ``found``: delete its findings of ``kinds``, then insert ``found[call]``
    (their kinds must be among ``kinds``), numbered after the call's remaining findings
    (``<call_id>#<n>``), in one transaction. Returns (findings deleted, findings inserted)."""
    if not found:
        return 0, 0
    stray = {f.kind for fs in found.values() for f in fs} - set(kinds)
    if stray:
        raise ValueError(f"findings of kinds {sorted(stray)} are not among the kinds replaced")
    ids, kinds = list(found), list(kinds)
    con = wh.con
    con.execute("BEGIN TRANSACTION")
    try:
        deleted = con.execute("DELETE FROM findings WHERE call_id IN (SELECT unnest(?::VARCHAR[]))"
                              " AND kind IN (SELECT unnest(?::VARCHAR[]))", [ids, kinds]).fetchone()[0]
        after = dict(con.execute(
            "SELECT call_id, max(TRY_CAST(split_part(finding_id, '#', -1) AS INTEGER)) + 1 FROM findings"
            " WHERE call_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY call_id", [ids]).fetchall())
        rows = [dict(finding_id=f"{cid}#{(after.get(cid) or 0) + n}", call_id=cid, kind=f.kind, role=f.role,
                     utterance_idx=f.utterance_index, start_s=f.start, end_s=f.end, evidence=f.evidence,
                     rule_id=f.rule_id, score=f.score, severity=f.severity)
                for cid, fs in found.items() for n, f in enumerate(fs)]
        if rows:
            con.register("new_findings", pa.Table.from_pylist(rows, schema=FINDINGS))
            try:
                # with the call's landing number (migration 010), so that landing the call again deletes them
                con.execute("INSERT INTO findings BY NAME SELECT n.*, c.land_seq FROM new_findings n"
                            " JOIN calls c USING (call_id)")
            finally:
                con.unregister("new_findings")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return deleted, len(rows)
