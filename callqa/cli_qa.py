"""QA commands: ``callqa report``, ``callqa sample`` and ``callqa review`` (registered by callqa.cli)."""
from __future__ import annotations

import getpass
import os
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callqa.cli_common import check_output_file, check_output_folder, check_recordable, fail as _fail
from callqa.cli_common import settings as _settings
from core.settings import Settings

console = Console()
err = Console(stderr=True, soft_wrap=True)


class VerdictChoice(str, Enum):
    confirmed = "confirmed"
    rejected = "rejected"
    missed = "missed"
    clean = "clean"


def _db(db: Optional[Path], settings: Settings) -> Path:
    """The warehouse named by --db or the config: it must exist and be a callqa warehouse this
    callqa knows (never created from a mistyped path); busy with a writer is exit 3."""
    from warehouse.store import Warehouse

    path = db or Path(settings.warehouse.db)
    if not path.exists():
        _fail(f"database {path} does not exist (run `callqa run ARCHIVE --db {path}` first)")
    Warehouse(path, read_only=True).close()  # errors: one line from the command group
    return path


def _default_reviewer() -> str:
    try:
        return os.environ.get("CALLQA_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


DbOpt = typer.Option(None, "--db", help="DuckDB file (default from config: var/callqa.duckdb).")
ConfigOpt = typer.Option(None, "--config", "-c", help="TOML configuration file (default: ./callqa.toml).")


def report(
    db: Optional[Path] = DbOpt,
    out: Path = typer.Option(Path("out/report"), "--out", "-o", help="Folder for the HTML report (created)."),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Put each recording, with its masked numbers "
                               "toned out, next to its call page (the original file is never copied)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Write a self-contained HTML report: overview, review queue, a page per call.

    Open OUT/index.html in a browser (works from a file:// URL or any static server; nothing
    is fetched from the network). Calling hours, attempt cap, cool-down and default timezone
    come from the [compliance] config section.
    """
    from callqa.report import ReportError, build_report
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    path = _db(db, settings)
    check_output_folder(out, "--out")
    check_recordable(path, "the report's files")
    try:
        result = build_report(path, out, settings, audio=audio)
    except (ReportError, ValueError) as exc:
        _fail(str(exc))
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    console.print(f"report for {result.calls} call(s), {result.flagged} flagged finding(s) written to "
                  f"[bold]{result.out / 'index.html'}[/bold] in {result.seconds:.1f} s"
                  + (f"; {result.audio_missing} recording(s) missing" if result.audio_missing else "")
                  + (f"; {result.audio_changed} recording(s) changed since processing, not played"
                     if result.audio_changed else ""),
                  highlight=False)


def sample(
    db: Optional[Path] = DbOpt,
    n: int = typer.Option(50, "--n", "-n", min=1, help="How many rows to draw."),
    by: str = typer.Option("kind", "--by", help="Strata, comma-separated: kind, collector, team, campaign, severity, role."),
    seed: int = typer.Option(0, "--seed", help="Same seed and data, same sample."),
    unflagged_share: float = typer.Option(0.1, "--unflagged-share", min=0.0, max=0.9,
                                          help="Share of N drawn from calls without flags (to estimate misses)."),
    include_reviewed: bool = typer.Option(False, "--include-reviewed", help="Also draw what already has a verdict."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the sample as CSV (fill `verdict`, then "
                                       "`callqa review --import`)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Draw a stratified, reproducible QA sample of flagged findings and some unflagged calls.

    Every stratum gets at least one row when N allows; the rest is proportional to stratum size.
    """
    from warehouse.review import sample as draw, write_sample_csv

    from core.files import same_file

    settings = _settings(config)
    path = _db(db, settings)
    if csv and same_file(csv, path):
        _fail(f"--csv {csv} is the database; choose another file")
    if csv:
        check_output_file(csv, "--csv")
    try:
        rows = draw(path, n, by=by.split(","), seed=seed, unflagged_share=unflagged_share,
                    include_reviewed=include_reviewed)
    except ValueError as exc:
        _fail(str(exc))
    table = Table(title=f"QA sample: {len(rows)} row(s), by {by}, seed {seed}")
    for col in ("stratum", "finding (or call)", "severity", "role", "collector", "at"):
        table.add_column(col, overflow="fold")
    for r in rows:
        at = "" if r["start_s"] is None else f"{int(r['start_s']) // 60:02d}:{int(r['start_s']) % 60:02d}"
        table.add_row(r["stratum"], r["finding_id"] or r["call_id"], r["severity"] or "", r["role"] or "",
                      r["collector_id"] or "", at)
    console.print(table)
    if csv:
        try:
            write_sample_csv(rows, csv)
        except OSError as exc:
            _fail(f"cannot write {csv}: {exc.strerror or exc}")
        console.print(f"written to {csv}", highlight=False)


def review(
    call_id: Optional[str] = typer.Argument(None, metavar="CALL_ID", help="The call reviewed (omit with --import)."),
    finding: Optional[str] = typer.Option(None, "--finding", "-f", help="Finding id, <call_id>#<n>."),
    verdict: Optional[VerdictChoice] = typer.Option(None, "--verdict", help="confirmed | rejected for a finding; "
                                                    "missed | clean for a sampled call without flags."),
    kind: Optional[str] = typer.Option(None, "--kind", help="With --verdict missed: what was missed (abuse, ...)."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text kept with the verdict."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Who decided (default $CALLQA_REVIEWER or the login name)."),
    import_csv: Optional[Path] = typer.Option(None, "--import", help="Import verdicts from a CSV (the report page's "
                                              "download, or a filled-in `callqa sample --csv`)."),
    db: Optional[Path] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Record a QA verdict on a finding (or import many from CSV) into the warehouse.

    Examples: callqa review dev_call_05 --finding 'dev_call_05#2' --verdict confirmed;
    callqa review --import verdicts.csv
    """
    from warehouse.review import ReviewError, Verdict, import_csv as do_import, record
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    path = _db(db, settings)
    who = reviewer or _default_reviewer()
    try:
        if import_csv:
            if call_id or finding or verdict:
                _fail("use either --import or CALL_ID --finding/--verdict, not both")
            if not import_csv.is_file():
                _fail(f"{import_csv} does not exist")
            result = do_import(path, import_csv, who)
            for line in result.errors:
                err.print(f"  [yellow]{escape(line)}[/yellow]", highlight=False)
            if result.errors:
                _fail(f"{len(result.errors)} bad row(s); nothing imported", code=1)
            console.print(f"imported {result.added} verdict(s) ({result.duplicates} already there"
                          + (f", {result.superseded} superseded by a later row of the file" if result.superseded
                             else "") + ")", highlight=False)
            return
        if not call_id or not verdict:
            _fail("give CALL_ID and --verdict (and --finding for confirmed/rejected), or --import FILE")
        stored = record(path, Verdict(call_id=call_id, verdict=verdict.value, reviewer=who, finding_id=finding,
                                      kind=kind, note=note))
    except ReviewError as exc:
        _fail(str(exc))
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    console.print(f"{stored.verdict}: {stored.finding_id or stored.call_id}"
                  f"{' (' + stored.kind + ')' if stored.kind else ''} by {stored.reviewer}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the QA commands to the ``callqa`` app."""
    app.command("report")(report)
    app.command("sample")(sample)
    app.command("review")(review)
