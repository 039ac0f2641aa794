"""Landing and planning read only the calls they concern, not every call in the warehouse
(issue 12: per-call landing cost flat as the warehouse grows). bench/scale.py prints the figures;
these tests check the behaviour: the batch-id lookup, replacement, failed-call rows, no
duplicates, and that no query of a landing or a plan reads the calls table unrestricted."""
import re

from core.domain import Call, Failure
from warehouse.store import Warehouse

from tests.helpers.warehouse_data import counts, processed

READS_CALLS = re.compile(r"\b(FROM|JOIN)\s+(calls|failures)\b", re.IGNORECASE)
# restricted to the ids in question: joined as a registered Arrow table, or a list parameter
RESTRICTED = re.compile(r"\b(JOIN wanted|FROM wanted|call_id = ANY\(\?\))")


def _logged(wh: Warehouse) -> list[str]:
    return [m for (m,) in wh.con.execute("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()]


def _unrestricted_reads(queries: list[str]) -> list[str]:
    """Queries that read calls or failures without joining the ids they were asked about."""
    return [q for q in queries if READS_CALLS.search(q) and not RESTRICTED.search(q)]


def _warehouse_with_others(tmp_path, n: int = 30) -> tuple[Warehouse, str]:
    wh = Warehouse(tmp_path / "w.duckdb")
    run = wh.start_run("/archive", {})
    wh.land([processed(f"other/{k:03d}", f"o{k}") for k in range(n)], [], run)
    wh.land([processed("x", "hx"), processed("b", "hb")],
            [Failure("bad", "/archive/bad.wav", "hbad", "decode", "decode_error", "not audio")], run)
    return wh, run


def test_call_statuses_returns_only_the_ids_asked(tmp_path):
    wh, _ = _warehouse_with_others(tmp_path)
    with wh:
        assert wh.call_statuses(["x", "bad", "never-landed", "x"]) == {"x": ("hx", "ok"), "bad": ("hbad", "failed")}
        assert wh.call_statuses([]) == {}
        assert wh.call_statuses(["other/000", "other/029"]) == {"other/000": ("o0", "ok"), "other/029": ("o29", "ok")}
        assert wh.failed_versions(["bad", "x", "never-landed"]) == {("bad", "hbad")}
        assert wh.failed_versions(["x"]) == set() and wh.failed_versions([]) == set()
        assert wh.failed_versions() == {("bad", "hbad")}  # without ids: every failure, as before


def test_landing_replaces_and_records_failures_reading_only_the_batch(tmp_path):
    wh, run = _warehouse_with_others(tmp_path)
    with wh:
        others = counts(wh.con)["utterances"] - 6
        wh.con.execute("CALL enable_logging('QueryLog')").fetchall()
        gone = Call("gone", "/archive/gone.wav", "hgone", 10, collector_id="C7", account_id="A7")
        wh.land([processed("x", "hx2", n_utts=5), processed("new", "hnew"), processed("bad", "hbad2")],
                [Failure("gone", gone.path, "hgone", "decode", "decode_error", "not audio"),
                 Failure("b", "/archive/b.wav", "hb2", "decode", "decode_error", "truncated"),
                 Failure("new", "/archive/new.wav", "hnew-old", "decode", "decode_error", "an earlier try")],
                run, calls={"gone": gone})
        queries = _logged(wh)
        assert queries and _unrestricted_reads(queries) == []
        # the changed call's rows are replaced, not added to
        assert counts(wh.con, "x") == {"calls": 1, "utterances": 5, "findings": 1, "call_metrics": 1}
        # a failed call that never landed gets a failed row with its manifest metadata
        assert wh.con.execute("SELECT status, sha256, collector_id, account_id FROM calls WHERE call_id = 'gone'"
                              ).fetchall() == [("failed", "hgone", "C7", "A7")]
        # a landed call whose new bytes are broken keeps what landed
        assert wh.call_statuses(["b"]) == {"b": ("hb", "ok")} and counts(wh.con, "b")["utterances"] == 3
        # a call landed in the same batch as its failure lands; a fixed failed call replaces its row
        assert wh.call_statuses(["new", "bad"]) == {"new": ("hnew", "ok"), "bad": ("hbad2", "ok")}
        # every failure is recorded, no call is there twice, and the other calls are untouched
        assert wh.con.execute("SELECT count(*) FROM failures WHERE run_id = ?", [run]).fetchone()[0] == 4
        assert wh.con.execute("SELECT call_id FROM calls GROUP BY call_id HAVING count(*) > 1").fetchall() == []
        assert counts(wh.con)["calls"] == 30 + 5
        assert wh.con.execute("SELECT count(*) FROM utterances WHERE call_id LIKE 'other/%'").fetchone()[0] == others


def test_plan_looks_up_only_the_discovered_calls(tmp_path):
    from flows.nightly import plan

    wh, _ = _warehouse_with_others(tmp_path)
    with wh:
        wh.con.execute("CALL enable_logging('QueryLog')").fetchall()
        found = [Call("x", "/archive/x.wav", "hx"),          # landed, same bytes: skipped
                 Call("b", "/archive/b.wav", "hb-changed"),  # landed, changed: processed again
                 Call("bad", "/archive/bad.wav", "hbad"),    # failed with these bytes: not retried
                 Call("fresh", "/archive/fresh.wav", "hf")]  # new
        todo, skipped = plan(found, wh, retry_failed=False)
        assert [c.call_id for c in todo] == ["b", "fresh"] and skipped == 2
        assert _unrestricted_reads(_logged(wh)) == []
        todo, skipped = plan(found, wh, retry_failed=True)
        assert [c.call_id for c in todo] == ["b", "bad", "fresh"] and skipped == 1
        assert plan([], wh, retry_failed=False) == ([], 0)


def _seqs(con, call_id: str) -> dict[str, set]:
    return {t: {r[0] for r in con.execute(f"SELECT DISTINCT land_seq FROM {t} WHERE call_id = ?", [call_id]).fetchall()}
            for t in ("calls", "utterances", "findings", "call_metrics")}


def test_replacing_a_call_deletes_its_rows_by_landing_number(tmp_path):
    wh, run = _warehouse_with_others(tmp_path)
    with wh:
        first = _seqs(wh.con, "x")
        (seq,) = first["calls"]
        assert seq is not None and all(v == {seq} for v in first.values())  # one number on all its rows
        others = wh.con.execute("SELECT count(*) FROM utterances WHERE call_id <> 'x'").fetchone()[0]
        wh.con.execute("CALL enable_logging('QueryLog')").fetchall()
        wh.land([processed("x", "hx2", n_utts=4)], [], run)
        deletes = [q for q in _logged(wh) if q.startswith("DELETE FROM") and not q.startswith("DELETE FROM calls")]
        assert deletes and all(re.search(r"WHERE land_seq IN \(\?(, \?)*\)$", q) for q in deletes)  # zone maps
        second = _seqs(wh.con, "x")
        (new_seq,) = second["calls"]
        assert new_seq > seq and all(v == {new_seq} for v in second.values())
        assert counts(wh.con, "x") == {"calls": 1, "utterances": 4, "findings": 1, "call_metrics": 1}
        assert wh.con.execute("SELECT count(*) FROM utterances WHERE call_id <> 'x'").fetchone()[0] == others


def test_calls_landed_before_landing_numbers_are_replaced_by_call_id(tmp_path):
    wh, run = _warehouse_with_others(tmp_path)
    with wh:
        for table in ("calls", "utterances", "utterances_raw", "findings", "call_metrics"):  # as before migration 010
            wh.con.execute(f"UPDATE {table} SET land_seq = NULL WHERE call_id IN ('x', 'bad')")
        wh.land([processed("x", "hx2", n_utts=2), processed("bad", "hbad2")], [], run)
        assert counts(wh.con, "x") == {"calls": 1, "utterances": 2, "findings": 1, "call_metrics": 1}
        assert counts(wh.con, "bad") == {"calls": 1, "utterances": 3, "findings": 1, "call_metrics": 1}
        assert wh.call_statuses(["x", "bad"]) == {"x": ("hx2", "ok"), "bad": ("hbad2", "ok")}
        assert wh.con.execute("SELECT count(*) FROM utterances WHERE land_seq IS NULL").fetchone()[0] == 0
