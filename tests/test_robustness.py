"""Nothing lost, nothing leaked: bad input, SIGKILL at every landing step, concurrent runs, logs."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from tests.helpers.bad_inputs import make_corpus

pytestmark = [pytest.mark.flow, pytest.mark.slow]  # a Prefect server, SIGKILLed subprocess runs
CONFIG = "tests/data/test.toml"


def rows(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("calls", "utterances", "findings", "call_metrics")}
        out["dup_calls"] = con.execute("SELECT count(*) - count(DISTINCT call_id) FROM calls").fetchone()[0]
        out["dup_utts"] = con.execute(
            "SELECT count(*) - count(DISTINCT (call_id, idx)) FROM utterances").fetchone()[0]
        # every landed call is whole: it has its metrics rows
        out["half_landed"] = con.execute(
            "SELECT count(*) FROM calls c WHERE status = 'ok' AND NOT EXISTS"
            " (SELECT 1 FROM call_metrics m WHERE m.call_id = c.call_id AND m.role = 'all')").fetchone()[0]
        return out
    finally:
        con.close()


def test_bad_inputs_each_get_a_clear_error(harness, sample_calls, tmp_path):
    from flows.nightly import nightly

    archive = tmp_path / "bad"
    expected = make_corpus(archive, sample_calls / "dev_call_03.stereo.wav")
    (archive / "manifest.csv").write_text(
        "call_id,path,started_at,timezone\n"
        "mu,mulaw.wav,not-a-date,Asia/Shanghai\n"
        "ghost,missing/ghost.wav,2026-11-02T10:00:00+08:00,Asia/Shanghai\n", encoding="utf-8")
    expected["mu"] = expected.pop("mulaw")
    db = tmp_path / "bad.duckdb"
    summary = nightly(str(archive), db=str(db), config_path=CONFIG)
    con = duckdb.connect(str(db), read_only=True)
    failures = {(cid or path): (stage, reason, msg) for cid, path, stage, reason, msg in con.execute(
        "SELECT call_id, path, stage, reason, message FROM failures").fetchall()}
    status = dict(con.execute("SELECT call_id, status FROM calls").fetchall())
    silence = con.execute("SELECT duration_s, (SELECT count(*) FROM utterances WHERE call_id = 'hour_of_silence')"
                          " FROM calls WHERE call_id = 'hour_of_silence'").fetchone()
    six = con.execute("SELECT channels, diarization FROM calls WHERE call_id = 'six_channels'").fetchone()
    con.close()
    for name, (outcome, reason) in expected.items():
        if outcome == "ok":
            assert status.get(name) == "ok", (name, failures.get(name))
        else:
            assert name in failures, name
            assert failures[name][1] == reason, (name, failures[name])
            assert failures[name][2], name  # a message a person can act on
    assert failures["mu"][1] == "bad_timestamp"            # manifest problem recorded, the call still lands
    assert failures["ghost"][1] == "path_not_found"
    assert silence == (pytest.approx(3600.0, abs=0.1), 0)  # an hour of silence: landed, no invented text
    assert six[0] == 6
    assert summary["landed"] == sum(1 for o, _ in expected.values() if o == "ok")

    again = nightly(str(archive), db=str(db), config_path=CONFIG)
    assert again["landed"] == 0 and again["failed"] == 0


@pytest.fixture()
def three_calls(sample_calls, tmp_path):
    archive = tmp_path / "calls"
    archive.mkdir()
    for i in ("03", "06", "04"):
        shutil.copy(sample_calls / f"dev_call_{i}.stereo.wav", archive)
    return archive


def run_cli(archive, db, failpoint=None, **popen):
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), CALLQA_FLOW__BATCH_SIZE="1",
               CALLQA_CONFIG=CONFIG)
    env.pop("CALLQA_FAILPOINT", None)
    if failpoint:
        env["CALLQA_FAILPOINT"] = failpoint
    return subprocess.Popen([sys.executable, "-m", "callqa.cli", "run", str(archive), "--db", str(db)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_sigkill_at_every_step_then_rerun(harness, three_calls, tmp_path):
    reference = tmp_path / "ref.duckdb"
    ref = run_cli(three_calls, reference)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()[-2000:]
    want = rows(reference)
    assert want["calls"] == 3 and want["half_landed"] == 0

    db = tmp_path / "killed.duckdb"
    # batch size 1: each call lands in its own transaction. Kill after a call was processed and
    # staged but before it landed (the next run lands the staged rows without transcribing
    # again), in the middle of a transaction, between two commits, right after a commit (before
    # its staged files are removed), and before the commit of the last call.
    points = ["call-processed:1", "land-inserting:2", "land-before-commit:2", "batch-landed:1",
              "land-before-commit:1"]
    for point in points:
        proc = run_cli(three_calls, db, failpoint=point)
        assert proc.wait(timeout=300) == -signal.SIGKILL, (point, proc.stderr.read()[-2000:])
        state = rows(db)
        assert state["dup_calls"] == 0 and state["dup_utts"] == 0 and state["half_landed"] == 0, (point, state)
    rnd = random.Random(11)
    for _ in range(2):  # and at random moments
        proc = run_cli(three_calls, db)
        time.sleep(rnd.uniform(2.0, 12.0))
        proc.kill()
        proc.wait(timeout=60)
        state = rows(db)
        assert state["dup_calls"] == 0 and state["dup_utts"] == 0 and state["half_landed"] == 0, state
    final = run_cli(three_calls, db)
    assert final.wait(timeout=300) == 0, final.stderr.read()[-2000:]
    got = rows(db)
    assert got == want
    con = duckdb.connect(str(db), read_only=True)
    statuses = [s for (s,) in con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]
    con.close()
    assert statuses[-1] == "completed" and "running" not in statuses


def test_second_run_waits_for_none_and_says_why(harness, three_calls, tmp_path):
    db = tmp_path / "busy.duckdb"
    first = run_cli(three_calls, db)
    lock = tmp_path / "busy.duckdb.run.lock"  # the run lock holds the pid of the run that holds it
    deadline = time.time() + 120
    while time.time() < deadline:          # until the first run holds the database's run lock
        if lock.exists() and lock.read_text().strip() == str(first.pid):
            break
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before it could be raced"
    second = run_cli(three_calls, db)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 3
    assert "in use by another process" in err
    assert first.wait(timeout=300) == 0
    assert rows(db)["calls"] == 3


def test_no_transcript_text_in_logs_or_results(harness, sample_calls, test_data, tmp_path):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.nightly import nightly

    archive = tmp_path / "a"
    archive.mkdir()
    shutil.copy(sample_calls / "dev_call_05.stereo.wav", archive)
    started = time.time()
    state = nightly(str(archive), db=str(tmp_path / "l.duckdb"), config_path=CONFIG, return_state=True)
    assert state.is_completed()
    truth = json.loads((test_data / "calls" / "dev_call_05.json").read_text(encoding="utf-8"))
    fragments = {t["text"][i:i + 4] for t in truth["turns"] for i in range(0, max(len(t["text"]) - 4, 1), 2)}

    async def logs():
        async with get_client() as client:
            return await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
                any_=[state.state_details.flow_run_id])))

    messages = [log.message for log in asyncio.run(logs())]
    assert messages, "the run wrote no logs at all"
    text = "\n".join(messages)
    assert not [f for f in fragments if f in text]
    # nothing of a completed run is persisted as a Prefect result (results stay in memory)
    storage = os.path.join(os.environ["PREFECT_HOME"], "storage")
    written = [f for f in os.listdir(storage) if os.path.getmtime(os.path.join(storage, f)) >= started - 1] \
        if os.path.isdir(storage) else []
    assert written == []
