"""Bad input on the command line: a one-line error and exit 2 (3 for a database busy with
another writer), never a traceback, and nothing written (issue 11).

Most cases run in-process with CliRunner and ``catch_exceptions=False``, so an exception that
escapes a command fails the test with its traceback (a real bug stays visible). A few run
``python -m callqa.cli`` in a subprocess: what the user sees, main()'s last-resort guard
included. README "Operations" lists every case in its "Bad input → what you get" table.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from tests.helpers.bad_inputs import (BAD_ENVIRONMENTS, bad_configs, foreign_duckdb, held_by_writer, nested_json,
                                      newer_schema, not_duckdb, review_csv, unwritable)
from tests.helpers.warehouse_data import processed
from warehouse.store import Warehouse

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env)


def one_line_error(result, *needles, code=2) -> str:
    """The command failed with ``code`` and said why on exactly one stderr line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def db(tmp_path) -> Path:
    """A small warehouse: calls a and b, one flagged finding each."""
    path = tmp_path / "db" / "w.duckdb"
    with Warehouse(path) as wh:
        wh.land([processed("a", "h1"), processed("b", "h2")], [], wh.start_run("/archive", {}))
    return path


def db_commands(db: Path, tmp: Path) -> dict[str, list]:
    """Every command that takes --db, writing (if at all) only under ``tmp/out``."""
    (tmp / "archive").mkdir(exist_ok=True)
    sheet = review_csv(tmp / "verdicts.csv", [{"call_id": "a", "verdict": "clean"}])
    out = tmp / "out"
    return {
        "run": ["run", tmp / "archive", "--db", db],
        "purge": ["purge", "--db", db, "--call-id", "a"],
        "purge --yes": ["purge", "--db", db, "--call-id", "a", "--yes"],
        "purge --lift": ["purge", "--db", db, "--call-id", "a", "--lift"],
        "report": ["report", "--db", db, "--out", out / "report", "--no-audio"],
        "export": ["export", "--db", db, "--out", out / "export"],
        "sample": ["sample", "--db", db, "--csv", out / "sample.csv"],
        "review": ["review", "a", "--verdict", "clean", "--db", db],
        "review --import": ["review", "--import", sheet, "--db", db],
    }


# -- databases that are not what they should be ----------------------------------------------

@pytest.mark.parametrize("kind, needle", [
    ("not_duckdb", "is not a DuckDB database"),
    ("empty_file", "is not a DuckDB database"),
    ("foreign_duckdb", "not a callqa warehouse"),
    ("newer_schema", "is newer than this callqa (knows up to"),
])
def test_every_command_refuses_a_database_it_cannot_use(tmp_path, kind, needle):
    path = tmp_path / "x.duckdb"
    {"not_duckdb": not_duckdb, "empty_file": lambda p: p.write_bytes(b""), "foreign_duckdb": foreign_duckdb,
     "newer_schema": newer_schema}[kind](path)
    before = path.read_bytes()
    for name, args in db_commands(path, tmp_path).items():
        one_line_error(invoke(*args), needle)
        assert not (tmp_path / "out").exists(), name  # nothing written anywhere
    if kind == "foreign_duckdb":  # someone else's database is left as it was: no callqa tables added
        con = duckdb.connect(str(path), read_only=True)
        assert [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()] == [
            "invoices"]
        con.close()
    else:
        assert path.read_bytes() == before


def test_a_wrong_database_path_is_never_created(tmp_path):
    missing = tmp_path / "typo" / "qa.duckdb"
    for name, args in db_commands(missing, tmp_path).items():
        if name == "run":
            continue  # the one command that creates a warehouse
        one_line_error(invoke(*args), "does not exist")
        assert not missing.exists() and not missing.parent.exists(), name


def test_read_only_database_stops_report_and_export_before_writing(db, tmp_path):
    """Report and export record the files they write in the database (so purges reach them):
    a database that cannot be written stops them before any output; reading still works."""
    commands = db_commands(db, tmp_path)
    with unwritable(db):
        for name in ("report", "export"):
            one_line_error(invoke(*commands[name]), "cannot be written", "the file", "nothing was written")
        assert not (tmp_path / "out").exists()
        for name in ("purge --yes", "purge --lift", "review", "review --import"):
            one_line_error(invoke(*commands[name]), "cannot be written")
        dry = invoke(*commands["purge"])
        assert dry.exit_code == 0 and "1 call(s) match" in dry.stdout  # a dry run only reads
        one_line_error(invoke("sample", "--db", db), "cannot be written")  # keeping a sample writes
        assert invoke("sample", "--db", db, "--no-keep").exit_code == 0   # drawing one only reads
    with unwritable(db.parent):  # the file is writable, its folder (for DuckDB's log) is not
        for name in ("report", "export", "purge --yes", "review"):
            one_line_error(invoke(*commands[name]), "cannot be written", "its folder")
        assert not (tmp_path / "out").exists()
    with Warehouse(db, read_only=True) as wh:  # nothing was half done
        assert wh.con.execute("SELECT count(*) FROM calls").fetchone()[0] == 2
        assert wh.con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def test_database_busy_with_a_writer_is_exit_3_before_any_output(db, tmp_path):
    commands = db_commands(db, tmp_path)
    with held_by_writer(db):
        for name, args in commands.items():
            one_line_error(invoke(*args), "in use by another process", code=3)
        assert not (tmp_path / "out").exists()


# -- output paths ----------------------------------------------------------------------------

def test_output_paths_that_cannot_take_the_output(db, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    one_line_error(invoke("report", "--db", db, "--out", a_file), "is not a folder")
    one_line_error(invoke("export", "--db", db, "--out", a_file), "is not a folder")
    assert a_file.read_text() == "mine"
    one_line_error(invoke("sample", "--db", db, "--csv", tmp_path), "is a folder")
    one_line_error(invoke("analyze-text", REPO / "tests" / "data" / "dev_utterances.jsonl", "-o", tmp_path))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_disk_is_one_line(db):
    """/dev/full answers every write with ENOSPC; it must stay a device (never replaced)."""
    one_line_error(invoke("sample", "--db", db, "--csv", "/dev/full"), "/dev/full", "No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_diarize_checks_its_rttm_folder_and_speakers_before_any_work(tmp_path, repo_root):
    audio = repo_root / "samples" / "calls" / "dev_call_06.mono.wav"
    one_line_error(invoke("diarize", audio, "--rttm", tmp_path / "missing" / "x.rttm"), "does not exist")
    one_line_error(invoke("diarize", audio, "--rttm", tmp_path), "is a folder")
    for n in ("0", "-2"):
        one_line_error(invoke("diarize", audio, "--speakers", n), "num_speakers must be >= 1")


def test_purge_age_beyond_any_date(db):
    one_line_error(invoke("purge", "--db", db, "--older-than-days", "99999999"), "nothing can be that old")
    one_line_error(invoke("purge", "--db", db, "--older-than-days", "-5"), "below the minimum")


def test_deeply_nested_json_row(tmp_path):
    one_line_error(invoke("analyze-text", nested_json(tmp_path / "deep.jsonl")), "row 1", "nested too deeply")


# -- configuration ---------------------------------------------------------------------------

def config_commands(db: Path, tmp: Path, audio: Path) -> dict[str, list]:
    """Every command that reads the configuration, with otherwise good arguments."""
    (tmp / "archive").mkdir(exist_ok=True)
    return {
        "run": ["run", tmp / "archive", "--db", tmp / "new.duckdb"],
        "transcribe": ["transcribe", audio], "diarize": ["diarize", audio], "models check": ["models", "check"],
        "export": ["export", "--db", db, "--out", tmp / "out"], "purge": ["purge", "--db", db, "--call-id", "a"],
        "report": ["report", "--db", db, "--out", tmp / "out"], "sample": ["sample", "--db", db],
        "review": ["review", "a", "--verdict", "clean", "--db", db],
    }


def test_bad_configuration_is_one_line_in_every_command(db, tmp_path, repo_root):
    files = bad_configs(tmp_path / "configs")
    commands = config_commands(db, tmp_path, repo_root / "samples" / "calls" / "dev_call_06.mono.wav")
    needles = {"syntax": "cannot read config", "batch_size_zero": "batch_size must be >= 1",
               "unknown_key": "asr.modle", "unknown_section": "[nope]", "wrong_type": "asr.beam_size"}
    for name, args in commands.items():
        for problem, path in files.items():
            one_line_error(invoke(*args, "--config", path), "configuration:", needles[problem])
        for problem, env in BAD_ENVIRONMENTS.items():
            one_line_error(invoke(*args, env=env), "configuration:")
    assert not (tmp_path / "out").exists() and not (tmp_path / "new.duckdb").exists()


# -- review CSVs -----------------------------------------------------------------------------

def test_review_import_csv_problems_are_one_line(db, tmp_path):
    huge = review_csv(tmp_path / "huge.csv", [{"call_id": "a", "finding_id": "a#0", "verdict": "confirmed",
                                               "note": "x" * 200_000}])
    one_line_error(invoke("review", "--import", huge, "--db", db), "line 2", "longer than 128 KB")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"call_id,finding_id,verdict\n" + bytes(range(128, 256)) * 4)
    one_line_error(invoke("review", "--import", binary, "--db", db), "not text")
    future = review_csv(tmp_path / "future.csv", [{"call_id": "a", "finding_id": "a#0", "verdict": "confirmed",
                                                   "reviewed_at": "2999-01-01T00:00:00+00:00"}])
    result = invoke("review", "--import", future, "--db", db)
    assert result.exit_code == 1 and "line 2: reviewed_at 2999-01-01T00:00:00+00:00 is in the future" in result.stderr
    assert "Traceback" not in result.output


# -- what the user sees: subprocess runs -----------------------------------------------------

def cli(*args, env=None, cwd=None):
    full = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    full.pop("CALLQA_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "callqa.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=full, cwd=cwd)


@pytest.mark.slow  # a subprocess of its own (full suite only)
def test_subprocess_errors_are_one_line_without_traceback(tmp_path):
    bad = not_duckdb(tmp_path / "x.duckdb")
    deep = nested_json(tmp_path / "deep.jsonl")
    for args, env, needle in [
        (["sample", "--db", bad], None, "is not a DuckDB database"),
        (["analyze-text", deep], None, "nested too deeply"),
        (["models", "check"], {"CALLQA_FLOW__BATCH_SIZE": "0"}, "batch_size"),
    ]:
        out = cli(*args, env=env, cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and "╭" not in out.stderr  # no plain or rich traceback
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_subprocess_stdout_on_a_full_disk(tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.land([processed("a", "h1")], [], wh.start_run("/archive", {}))
    with open("/dev/full", "w") as full:
        out = subprocess.run([sys.executable, "-m", "callqa.cli", "sample", "--db", str(db)], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode == 2 and out.stderr.strip() == "error: No space left on device", out.stderr


BOOM = """
import sys
from callqa import cli

@cli.app.command("boom")
def boom() -> None:
    raise KeyError("an unforeseen\\nbug")

sys.argv = ["callqa", "boom"]
cli.main()
"""


def test_last_resort_guard_names_the_exception_and_the_debug_switch(tmp_path):
    """A bug nobody foresaw: main() prints its type and message on one line (exit 2);
    CALLQA_DEBUG=1 shows the traceback."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CALLQA_DEBUG", None)
    out = subprocess.run([sys.executable, "-c", BOOM], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "╭" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: KeyError: 'an unforeseen\\nbug' (unexpected; CALLQA_DEBUG=1 shows the traceback)"]
    debug = subprocess.run([sys.executable, "-c", BOOM], capture_output=True, text=True, timeout=120,
                           env=dict(env, CALLQA_DEBUG="1"))
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "KeyError" in debug.stderr


@pytest.mark.parametrize("args, line", [
    (["run"], "error: callqa run: Missing argument 'archive'. (see callqa run --help)"),
    (["report", "--bogus"], "error: callqa report: No such option: --bogus"),
    (["search", "--limit", "x", "foo"], "error: callqa search: Invalid value for '--limit'"),
    (["--version"], "error: callqa: No such option: --version"),
])
def test_usage_mistakes_are_one_line(args, line, capsys):
    """What main() shows for a mistyped command line: one line naming the command, exit 2
    (Typer's own message is a box of five lines)."""
    from callqa.cli_common import run_app

    with pytest.raises(SystemExit) as stop:
        run_app(app, args)
    out = capsys.readouterr()
    assert stop.value.code == 2
    assert out.err.startswith(line) and len(out.err.strip().splitlines()) == 1, out.err
    assert out.out == ""


def test_help_and_bare_command_still_show_help(capsys):
    from callqa.cli_common import run_app

    with pytest.raises(SystemExit) as stop:
        run_app(app, ["report", "--help"])
    assert stop.value.code == 0 and "--max-pages" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        run_app(app, [])
    assert stop.value.code == 2 and "Usage: callqa" in capsys.readouterr().out
