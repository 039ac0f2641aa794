"""Nightly at a collection centre's scale (issue 12): a night's cost follows its new recordings,
not the archive. Unchanged files are not read again (fingerprints), dated folders before
--since are not listed, --manifest-only does not walk the archive, and readers get into the
database while a run is in progress (the run lock keeps the single writer)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from flows.discovery import discover_archive, list_recordings, parse_since
from flows.intake import discover_night
from flows.moves import apply_moves, landed_rows
from tests.helpers.warehouse_data import processed
from warehouse.store import Warehouse, WarehouseBusy, run_lock, run_lock_path

TZ = "Asia/Shanghai"
CONFIG = "tests/data/test.toml"
LONG_AGO_NS = 1_790_000_000 * 10**9    # recordings landed well before the night's run (2026-09)
runner = CliRunner()


def io_counters() -> dict[str, int]:
    """This process's I/O: rchar (bytes read through read()/pread(), cached or not) and read_bytes."""
    out = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = int(value)
    return out


def build_archive(root: Path, sample_calls: Path, days: list[str], per_day: int) -> list[Path]:
    """Recordings under ``root/YYYY/MM/DD``: copies of the sample calls, each with its own bytes
    (one PCM sample changed), dated well before tonight."""
    sources = sorted(sample_calls.glob("dev_call_0*.wav"))
    files = []
    for d, day in enumerate(days):
        folder = root / day
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_day):
            target = folder / f"c{d:02d}{k:02d}.wav"
            data = bytearray(sources[(d * per_day + k) % len(sources)].read_bytes())
            data[200:204] = (d * per_day + k + 1).to_bytes(4, "little")
            target.write_bytes(bytes(data))
            os.utime(target, ns=(LONG_AGO_NS, LONG_AGO_NS + d * 10**9 + k))
            files.append(target)
    return files


def land_discovered(db: Path, calls) -> None:
    """Mark discovered calls landed through the warehouse (synthetic rows, their real path,
    hash, size and mtime)."""
    results = []
    for call in calls:
        result = processed(call.call_id, call.sha256)
        result.call = replace(call, channel_roles=("collector", "customer"))
        results.append(result)
    with Warehouse(db) as wh:
        wh.land(results, [], wh.start_run("first", {}))


def night(archive: Path, db: Path, cfg, **kwargs):
    """One night's discovery, moves and plan, as the nightly flow does them."""
    from flows.nightly import plan

    found = discover_night(archive, cfg, db, **kwargs)
    with Warehouse(db) as wh:
        run_id = wh.start_run(str(archive), {})
        calls, _ = apply_moves(found, landed_rows(found, wh), wh, run_id)
        todo, skipped = plan(calls, wh, retry_failed=False)
    return found, todo, skipped


# -- 1. fingerprints: an unchanged file is not read again -----------------------------------------
def test_second_night_reads_no_unchanged_file(sample_calls, cfg, tmp_path):
    import flows.nightly  # noqa: F401  (imported before bytes are counted: its modules are read once)

    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    files = build_archive(archive, sample_calls, ["2026/11/01", "2026/11/02", "2026/11/03"], per_day=4)
    total = sum(f.stat().st_size for f in files)

    first = discover_night(archive, cfg, db)
    assert (first.hashed_files, first.hashed_bytes) == (12, total)
    assert all(c.mtime_ns == f.stat().st_mtime_ns for c, f in zip(first.calls, files))
    land_discovered(db, first.calls)

    before = io_counters()
    found, todo, skipped = night(archive, db, cfg)
    read = io_counters()["rchar"] - before["rchar"]
    assert (found.hashed_files, found.hashed_bytes) == (0, 0)          # nothing read to hash
    assert read < total / 4, read                                      # bytes read: not the archive's
    assert todo == [] and skipped == 12
    assert [c.sha256 for c in found.calls] == [c.sha256 for c in first.calls]

    # touched (new mtime, same bytes): read again, not processed again, and not read the night after
    touched = files[5]
    os.utime(touched, ns=(LONG_AGO_NS, LONG_AGO_NS + 10**12))
    found, todo, _ = night(archive, db, cfg)
    assert (found.hashed_files, found.hashed_bytes) == (1, touched.stat().st_size) and todo == []
    found, todo, _ = night(archive, db, cfg)
    assert found.hashed_files == 0 and todo == []
    with Warehouse(db, read_only=True) as wh:
        assert wh.stored_files([str(touched)])[str(touched)][2] == touched.stat().st_mtime_ns

    # changed (new bytes, same size): read and processed again
    changed = files[7]
    data = bytearray(changed.read_bytes())
    data[300] ^= 0xFF
    changed.write_bytes(bytes(data))
    os.utime(changed, ns=(LONG_AGO_NS, LONG_AGO_NS + 2 * 10**12))
    found, todo, _ = night(archive, db, cfg)
    assert found.hashed_files == 1
    assert [c.path for c in todo] == [str(changed)]

    # a new recording: read, to process; the others are not read
    new = archive / "2026" / "11" / "04" / "late.wav"
    new.parent.mkdir()
    shutil.copy(sample_calls / "dev_call_06.mono.wav", new)
    os.utime(new, ns=(LONG_AGO_NS, LONG_AGO_NS))
    found, todo, _ = night(archive, db, cfg)
    assert (found.hashed_files, found.hashed_bytes) == (2, changed.stat().st_size + new.stat().st_size)
    assert sorted(c.path for c in todo) == sorted([str(changed), str(new)])


def test_file_changing_while_read_or_just_written_gets_no_fingerprint(sample_calls, cfg, tmp_path):
    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    archive.mkdir()
    fresh = archive / "fresh.wav"
    shutil.copy(sample_calls / "dev_call_03.stereo.wav", fresh)  # modified just now: may change again
    old = build_archive(archive, sample_calls, ["2026/11/01"], per_day=1)[0]
    found = discover_night(archive, cfg, db)
    marks = {Path(c.path).name: c.mtime_ns for c in found.calls}
    assert marks == {"fresh.wav": None, old.name: old.stat().st_mtime_ns}
    land_discovered(db, found.calls)
    again = discover_night(archive, cfg, db)
    assert (again.hashed_files, again.hashed_bytes) == (1, fresh.stat().st_size)  # only the fresh one, again


def test_failed_recording_is_not_read_again(sample_calls, cfg, tmp_path):
    from core.domain import Failure

    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    broken = build_archive(archive, sample_calls, ["2026/11/01"], per_day=1)[0]
    found = discover_night(archive, cfg, db)
    call = found.calls[0]
    with Warehouse(db) as wh:
        wh.land([], [Failure(call.call_id, call.path, call.sha256, "decode", "decode_error", "not audio")],
                wh.start_run("first", {}), calls={call.call_id: call})
    found, todo, _ = night(archive, db, cfg)
    assert found.hashed_files == 0 and todo == [] and found.calls[0].sha256 == call.sha256
    assert broken.stat().st_mtime_ns == found.calls[0].mtime_ns


def test_moves_look_up_only_the_discovered_calls(sample_calls, cfg, tmp_path):
    """The moves/re-key step sees the landed rows of the discovered ids and hashes only; a moved
    file keeps its call, is read once under its new path, then not again."""
    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    files = build_archive(archive, sample_calls, ["2026/11/01", "2026/11/02"], per_day=2)
    first = discover_night(archive, cfg, db)
    land_discovered(db, first.calls)
    with Warehouse(db) as wh:  # other calls in the warehouse, never loaded
        wh.land([processed(f"other-{k}", f"h{k}") for k in range(50)], [], wh.start_run("x", {}))
    moved = archive / "2026" / "11" / "02" / "renamed.wav"
    os.rename(files[0], moved)
    found = discover_night(archive, cfg, db)
    with Warehouse(db) as wh:
        landed = landed_rows(found, wh)
        assert set(landed) == {c.call_id for c in first.calls}
        run_id = wh.start_run(str(archive), {})
        calls, _ = apply_moves(found, landed, wh, run_id)
        assert wh.run_summary(run_id)["moved"] == 1
    assert first.calls[0].call_id in {c.call_id for c in calls}
    assert found.hashed_files == 1
    found, todo, _ = night(archive, db, cfg)
    assert found.hashed_files == 0 and todo == []


# -- 2. --since: older dated folders are not even listed ------------------------------------------
def scanned_folders(monkeypatch) -> list[str]:
    """Spy on os.scandir (the standard library's, not ours): which folders were listed."""
    seen: list[str] = []
    real = os.scandir

    def spy(path="."):
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    return seen


def test_since_lists_only_dated_folders_from_that_day(tmp_path, monkeypatch):
    archive = tmp_path / "a"
    layout = {
        "2025/12/31/old.wav": False, "2026/10/30/old.wav": False, "2026/11/01/old.wav": False,
        "2026/11/02/new.wav": True, "2026/11/03/x/new.wav": True, "2026/12/01/new.wav": True,
        "2026-11-01/old.wav": False, "2026-11-02/new.wav": True, "20261101/old.wav": False, "20261105/new.wav": True,
        "site_a/2026/11/01/old.wav": False, "site_a/2026/11/02/new.wav": True,
        "root.wav": True, "misc/undated.wav": True, "2026/misc/in_2026.wav": True, "2025/misc/in_2025.wav": False,
        "2026/11/99/bad_day.wav": True,  # not a date: a folder like any other, inside November 2026
    }
    for rel in layout:
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        (archive / rel).write_bytes(b"RIFF")
    seen = scanned_folders(monkeypatch)
    got = list_recordings(archive, ("*.wav",), since=date(2026, 11, 2))
    assert sorted(p.relative_to(archive).as_posix() for p in got) == sorted(r for r, keep in layout.items() if keep)
    scanned = {Path(f).relative_to(archive).as_posix() for f in seen}
    assert not {"2025", "2026/10", "2026/11/01", "2026-11-01", "20261101", "site_a/2026/11/01"} & scanned
    assert len(list_recordings(archive, ("*.wav",))) == len(layout)  # without --since: everything


def test_parse_since():
    today = date(2026, 11, 3)
    assert parse_since("2026-11-02", today) == date(2026, 11, 2)
    assert parse_since("20261102", today) == date(2026, 11, 2)
    assert parse_since("yesterday", today) == date(2026, 11, 2)
    assert parse_since("Today", today) == today
    assert parse_since("7d", today) == date(2026, 10, 27)
    for bad in ("last week", "2026-13-01", "-1d", ""):
        with pytest.raises(ValueError, match="--since"):
            parse_since(bad, today)


def test_since_in_a_night(sample_calls, cfg, tmp_path):
    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    build_archive(archive, sample_calls, ["2026/11/01", "2026/11/02", "2026/11/03"], per_day=2)
    found = discover_night(archive, cfg, db, since=date(2026, 11, 2))
    assert sorted(Path(c.path).parent.name for c in found.calls) == ["02", "02", "03", "03"]
    assert found.hashed_files == 4


# -- 3. --manifest-only: no walk of the archive at all --------------------------------------------
def test_manifest_only_never_walks_the_archive(sample_calls, cfg, tmp_path, monkeypatch):
    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    files = build_archive(archive, sample_calls, ["2026/11/01", "2026/11/02"], per_day=3)
    night_csv = tmp_path / "night.csv"
    night_csv.write_text("call_id,path,collector_id\nN1,2026/11/02/c0100.wav,C7\n", encoding="utf-8")
    seen = scanned_folders(monkeypatch)
    found = discover_night(archive, cfg, db, manifest=night_csv, manifest_only=True)
    assert seen == []
    assert [(c.call_id, c.path, c.collector_id) for c in found.calls] == [("N1", str(files[3]), "C7")]
    assert found.hashed_files == 1 and found.failures == []
    with pytest.raises(ValueError, match="--manifest-only needs a manifest"):
        discover_archive(archive, cfg.archive, default_tz=TZ, manifest_only=True)


def test_run_options_are_checked_before_anything_runs(tmp_path):
    archive = tmp_path / "a"
    archive.mkdir()
    db = tmp_path / "w.duckdb"
    for args, message in [
        (["--since", "last week"], "--since 'last week' is not a date"),
        (["--manifest-only"], "--manifest-only needs a manifest"),
        (["--manifest-only", "--manifest", str(tmp_path / "none.csv")], "does not exist"),
        (["--manifest-only", "--since", "1d", "--manifest", str(tmp_path / "none.csv")], "do not go together"),
    ]:
        result = runner.invoke(app, ["run", str(archive), "--db", str(db), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), result.output
        assert "Traceback" not in result.output
    assert not db.exists()


# -- 5. the run lock: one writer, readers not kept out --------------------------------------------
def hold_run_lock(db: Path) -> subprocess.Popen:
    """Another process holding the database's run lock, as a run does (and nothing else)."""
    code = (f"import sys, time; sys.path.insert(0, {str(Path.cwd())!r}); from warehouse.store import run_lock\n"
            f"with run_lock({str(db)!r}):\n    print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_run_lock_keeps_out_writers_not_readers_and_dies_with_its_holder(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.land([processed("a", "h1")], [], wh.start_run("x", {}))
    holder = hold_run_lock(db)
    try:
        with pytest.raises(WarehouseBusy, match=rf"in use by another process .*pid {holder.pid}"):
            Warehouse(db)
        with Warehouse(db, read_only=True) as wh:  # the run has the file closed: readers get in
            assert wh.con.execute("SELECT count(*) FROM calls").fetchone()[0] == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with Warehouse(db) as wh:  # killed: the kernel dropped its lock
        assert wh.call_statuses(["a", "zz"]) == {"a": ("h1", "ok")}
    assert run_lock_path(db).exists()
    with run_lock(db), Warehouse(db), Warehouse(db):  # re-entrant within the run's own process
        pass


def test_cli_run_refuses_while_another_run_holds_the_lock(tmp_path):
    """Refused at once (exit 3), before a Prefect server is started or the database is opened."""
    archive = tmp_path / "a"
    archive.mkdir()
    db = tmp_path / "w.duckdb"
    holder = hold_run_lock(db)
    try:
        result = runner.invoke(app, ["run", str(archive), "--db", str(db), "--config", CONFIG])
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert result.exit_code == 3, result.output
    assert "in use by another process" in " ".join(result.output.split()) and not db.exists()


# -- the flow: second night reads nothing, readers get in between batches ------------------------
@pytest.mark.slow
@pytest.mark.flow
def test_nightly_second_night_reads_only_new_recordings(harness, sample_calls, tmp_path):
    from flows.nightly import nightly

    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    day = archive / "2026" / "11" / "02"
    day.mkdir(parents=True)
    for n in ("03", "05"):
        shutil.copy(sample_calls / f"dev_call_{n}.stereo.wav", day)
        os.utime(day / f"dev_call_{n}.stereo.wav", ns=(LONG_AGO_NS, LONG_AGO_NS))
    first = nightly(str(archive), db=str(db), config_path=CONFIG)
    assert (first["landed"], first["hashed"]) == (2, 2)
    second = nightly(str(archive), db=str(db), config_path=CONFIG)
    assert (second["landed"], second["skipped"], second["hashed"], second["bytes_hashed"]) == (0, 2, 0, 0)

    os.utime(day / "dev_call_03.stereo.wav", ns=(LONG_AGO_NS, LONG_AGO_NS + 10**9))  # touched
    new_day = archive / "2026" / "11" / "03"
    new_day.mkdir()
    shutil.copy(sample_calls / "dev_call_06.stereo.wav", new_day)
    os.utime(new_day / "dev_call_06.stereo.wav", ns=(LONG_AGO_NS, LONG_AGO_NS))
    third = nightly(str(archive), db=str(db), config_path=CONFIG, since="2026-11-03")
    assert (third["landed"], third["discovered"], third["hashed"]) == (1, 1, 1)   # the 2nd is not even listed
    fourth = nightly(str(archive), db=str(db), config_path=CONFIG)
    assert (fourth["landed"], fourth["hashed"]) == (0, 1)                         # the touched file, read once
    fifth = nightly(str(archive), db=str(db), config_path=CONFIG)
    assert (fifth["landed"], fifth["hashed"]) == (0, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(mtime_ns) FROM calls").fetchone() == (3, 3)
        assert con.execute("SELECT list(n_hashed ORDER BY started_at) FROM runs").fetchone()[0] == [2, 0, 1, 1, 0]
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.flow
def test_reader_gets_in_while_a_run_is_in_progress(harness, sample_calls, tmp_path):
    """``duckdb -readonly`` (a BI tool, ``callqa report``) opens the database between batches,
    while the run goes on; a reader that holds it for a while delays landing, loses nothing."""
    from prefect.settings import PREFECT_API_URL

    archive, db = tmp_path / "calls", tmp_path / "w.duckdb"
    archive.mkdir()
    for n in ("03", "06", "04"):
        shutil.copy(sample_calls / f"dev_call_{n}.stereo.wav", archive)
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), CALLQA_FLOW__BATCH_SIZE="1", CALLQA_CONFIG=CONFIG)
    env.pop("CALLQA_FAILPOINT", None)
    proc = subprocess.Popen([sys.executable, "-m", "callqa.cli", "run", str(archive), "--db", str(db)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[tuple[str, int]] = []
    held = False
    try:
        while proc.poll() is None:
            try:
                con = duckdb.connect(str(db), read_only=True)
            except duckdb.Error:
                time.sleep(0.05)
                continue
            try:
                state = con.execute("SELECT (SELECT status FROM runs ORDER BY started_at DESC LIMIT 1),"
                                    " (SELECT count(*) FROM calls)").fetchone()
                if state[0] == "running":
                    seen.append(state)
                    if not held:  # hold it a while: the run must wait or defer, not fail
                        time.sleep(3.0)
                        held = True
            except duckdb.Error:
                pass  # the schema is still being created
            finally:
                con.close()
            time.sleep(0.05)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert seen, "no reader got in while the run was in progress"
    assert any(0 < n < 3 for _, n in seen), seen  # in between batches, not only before the first
    con = duckdb.connect(str(db), read_only=True)
    try:
        landed = con.execute("SELECT count(*), count(DISTINCT call_id) FROM calls WHERE status = 'ok'").fetchone()
        assert landed == (3, 3)
        assert con.execute("SELECT status FROM runs").fetchall() == [("completed",)]
    finally:
        con.close()
