"""The nightly deployment as an operator brings it up: server, work pool, deployment, worker, run."""
import os
import shutil
import socket
import subprocess

import duckdb
import pytest

pytestmark = [pytest.mark.flow, pytest.mark.slow]  # a Prefect server, work pool and worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deployment_registers_and_a_run_completes(repo_root, sample_calls, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(sample_calls / "dev_call_03.stereo.wav", archive)
    db = tmp_path / "nightly.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(CALLQA_PREFECT_PORT=str(free_port()), PREFECT_HOME=str(tmp_path / "prefect-home"),
               CALLQA_STATE_DIR=str(tmp_path / "state"), CALLQA_ARCHIVE=str(archive), CALLQA_DB=str(db),
               CALLQA_RUN_TIMEOUT="400", CALLQA_CONFIG=str(repo_root / "tests/data/test.toml"))
    script = str(repo_root / "deployments" / "local.sh")
    try:
        up = subprocess.run(["bash", script, "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "nightly/nightly" in up.stdout
        inspect = subprocess.run([str(repo_root / ".venv/bin/prefect"), "deployment", "inspect", "nightly/nightly"],
                                 env=dict(env, PREFECT_API_URL=f"http://127.0.0.1:{env['CALLQA_PREFECT_PORT']}/api"),
                                 capture_output=True, text=True, timeout=120)
        assert inspect.returncode == 0, inspect.stderr[-2000:]
        assert "Asia/Shanghai" in inspect.stdout and "'limit': 1" in inspect.stdout
        run = subprocess.run(["bash", script, "run"], env=env, capture_output=True, text=True, timeout=480)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Completed" in run.stdout
    finally:
        subprocess.run(["bash", script, "down"], env=env, capture_output=True, timeout=120)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT call_id, status FROM calls").fetchall() == [("dev_call_03.stereo", "ok")]
    assert con.execute("SELECT count(*) FROM utterances").fetchone()[0] > 0
    con.close()
