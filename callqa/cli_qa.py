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
from rich.text import Text

from callqa.cli_common import parse_day as _day
from callqa.cli_common import check_output_file, check_output_folder, check_recordable, fail as _fail
from callqa.cli_common import settings as _settings
from core.settings import Settings

console = Console()
err = Console(stderr=True, soft_wrap=True)


class ItemResult(str, Enum):
    pass_ = "pass"
    fail = "fail"


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


def _window(since: Optional[str], until: Optional[str], tz: str, days: int):
    """The report window: --since to --until (inclusive local dates); --until alone: the
    ``days`` days ending then; --since alone: from then to today; neither: the last ``days``
    days ending today (in ``tz``)."""
    from warehouse.reporting import Window

    start, end = _day(since, "--since"), _day(until, "--until")
    try:
        if start is None:
            return Window.last_days(days, tz, today=end)
        return Window(start, end or Window.last_days(1, tz).until)
    except ValueError as exc:
        _fail(str(exc))
        raise  # unreachable


def report(
    db: Optional[Path] = DbOpt,
    out: Path = typer.Option(Path("out/report"), "--out", "-o", help="Folder for the HTML report (created)."),
    since: Optional[str] = typer.Option(None, "--since", metavar="DATE", help="First day of the window "
                                        "(YYYY-MM-DD, the calls' local date; default: 6 days before --until)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="DATE", help="Last day of the window, inclusive "
                                        "(default: today in compliance.default_timezone)."),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Put each page's recording, with its masked "
                               "numbers toned out, next to it (the original file is never copied)."),
    max_pages: Optional[int] = typer.Option(None, "--max-pages", metavar="N", min=0, help="Call pages at most "
                                            "(0: no cap; default: setting report.max_call_pages): QA-sampled and reviewed "
                                            "calls first, then the most severe flags."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Write a self-contained HTML report of the calls started in a window of days (default:
    the last 7, setting report.days): overview, review queue, call list, and a page (with redacted
    audio) for each call flagged, drawn in a QA sample (`callqa sample`) or reviewed, up to
    report.max_call_pages pages (sampled and reviewed calls first, then the most severe).

    Open OUT/index.html in a browser (works from a file:// URL or any static server; nothing
    is fetched from the network). Calling hours, attempt cap, cool-down and default timezone
    come from the [compliance] config section.
    """
    from callqa.report import ReportError, build_report
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    window = _window(since, until, settings.compliance.default_timezone, settings.report.days)
    path = _db(db, settings)
    check_output_folder(out, "--out")
    check_recordable(path, "the report's files")
    try:
        result = build_report(path, out, settings, audio=audio, window=window, max_pages=max_pages)
    except (ReportError, ValueError) as exc:
        _fail(str(exc))
    except WarehouseBusy as exc:
        _fail(str(exc), code=3)
    console.print(f"report {result.window}: {result.calls} call(s), {result.pages} with a page, {result.flagged} "
                  f"flagged finding(s) written to [bold]{result.out / 'index.html'}[/bold] in {result.seconds:.1f} s"
                  + (f"; {result.without_page} more call(s) qualify for a page, over the cap (--max-pages)"
                     if result.without_page else "")
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
    keep: bool = typer.Option(True, "--keep/--no-keep", help="Keep the sample in the database, so that "
                              "`callqa report` gives its calls pages."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Draw a stratified, reproducible QA sample of flagged findings and some unflagged calls.

    Every stratum gets at least one row when N allows; the rest is proportional to stratum size.
    The sample is kept in the database (qa_samples): the report gives its calls pages.
    """
    from warehouse.review import save_sample, sample as draw, write_sample_csv
    from warehouse.store import WarehouseBusy

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
    if keep and rows:
        try:
            sample_id = save_sample(path, rows, n=n, by=by.split(","), seed=seed, unflagged_share=unflagged_share)
            console.print(f"kept as sample {sample_id}: `callqa report` gives its calls pages", highlight=False)
        except WarehouseBusy:
            err.print("[yellow]warning:[/yellow] database busy: the sample was not kept; its calls get report pages"
                      " only once flagged or reviewed", highlight=False)


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
    scorecard: Optional[str] = typer.Option(None, "--scorecard", help="With --item and --result: override one "
                                            "item of the call's form on this scorecard."),
    item: Optional[str] = typer.Option(None, "--item", help="The scorecard item id (see the call's page)."),
    result: Optional[ItemResult] = typer.Option(None, "--result", help="pass | fail: the item's result that counts."),
    db: Optional[Path] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Record a QA verdict on a finding (or import many from CSV), or override one item of a
    call's scorecard, into the warehouse.

    Examples: callqa review dev_call_05 --finding 'dev_call_05#2' --verdict confirmed;
    callqa review --import verdicts.csv;
    callqa review dev_call_01 --scorecard cuishou-default --item repayment_options --result fail --note "..."
    """
    from warehouse.review import ReviewError, Verdict, import_csv as do_import, record
    from warehouse.store import WarehouseBusy

    settings = _settings(config)
    path = _db(db, settings)
    who = reviewer or _default_reviewer()
    if scorecard or item or result:
        if finding or verdict or import_csv or kind:
            _fail("an item override (--scorecard --item --result) takes no --finding, --verdict, --kind or --import")
        _override_item(path, call_id, scorecard, item, result, who, note)
        return
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


def _override_item(path: Path, call_id: Optional[str], scorecard: Optional[str], item: Optional[str],
                   result: Optional[ItemResult], reviewer: str, note: Optional[str]) -> None:
    """`callqa review CALL_ID --scorecard S --item I --result pass|fail`: store the override and
    print the call's effective score."""
    from warehouse.scores import ScoreError, record_override
    from warehouse.store import Warehouse

    if not (call_id and scorecard and item and result):
        _fail("an item override needs CALL_ID, --scorecard, --item and --result pass|fail")
    try:
        with Warehouse(path, existing=True) as wh:
            row = record_override(wh, call_id, scorecard, item, result.value, reviewer, note)
    except ScoreError as exc:
        _fail(str(exc))
    score, detected = ("–" if v is None else f"{v:g}" for v in (row["score"], row["detected_score"]))
    console.print(f"{scorecard} {item}: {result.value} for {call_id} by {reviewer}; effective score {score}"
                  f"{' (fatal)' if row['fatal'] else ''}, detected {detected}", highlight=False, soft_wrap=True,
                  markup=False)


def score(
    db: Optional[Path] = DbOpt,
    scorecard: Optional[list[str]] = typer.Option(None, "--scorecard", help="Only this scorecard (repeatable; "
                                                  "default: [scoring] scorecards). A file in scorecards_dir."),
    every: bool = typer.Option(False, "--all", help="Re-score every landed call, also those at the current version."),
    check: bool = typer.Option(False, "--check", help="Only load and validate the scorecards and list their items."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Score the landed calls whose stored score is of another scorecard version (or missing),
    from the warehouse's rows: nothing is transcribed again. One transaction per batch."""
    from callqa.cli_common import scorecards as load_cards

    settings = _settings(config)
    cards = load_cards(settings, scorecard or None)
    if check:
        from analysis.scorecards import describe

        for card in cards:
            console.print(f"{card.name} version {card.version}: {card.title} ({card.path}): ok", soft_wrap=True,
                          highlight=False, markup=False)
            for row in describe(card):
                console.print(f"  {row['section']}/{row['item']}: {row['signal']}"
                              + (f" ({row['options']})" if row["options"] else "")
                              + (" fatal" if row["fatal"] else f" weight {row['weight']:g}"),
                              soft_wrap=True, highlight=False, markup=False)
        return
    if not cards:
        _fail("no scorecards configured ([scoring] scorecards is empty) and none given with --scorecard")
    from flows.scoring import rescore

    path = _db(db, settings)
    for done in rescore(path, cards, every=every):
        console.print(f"{done.scorecard} version {done.version}: {done.scored} call(s) scored, "
                      f"{done.current} already at this version", highlight=False, soft_wrap=True, markup=False)


def search(
    text: str = typer.Argument(..., metavar="TEXT", help="What was said: a substring, or a regular expression with --regex."),
    db: Optional[Path] = DbOpt,
    regex: bool = typer.Option(False, "--regex", help="TEXT is a regular expression (RE2 syntax)."),
    role: Optional[str] = typer.Option(None, "--role", help="Only utterances of this role (collector, customer, "
                                       "third_party, unknown)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only utterances carrying a finding of this kind (threat, ...)."),
    since: Optional[str] = typer.Option(None, "--since", help="Calls on or after this local date (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Calls on or before this local date (YYYY-MM-DD)."),
    collector: Optional[str] = typer.Option(None, "--collector", help="Only this collector's calls."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, max=100_000, help="At most this many rows (newest calls first)."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Write the rows to this CSV file instead of a table."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """List the utterances that match TEXT across the warehouse: call, time into the call,
    role, redacted text (raw text is never searched or shown)."""
    from core.csvsafe import write_csv
    from core.files import same_file
    from warehouse.search import COLUMNS, SearchError, SearchQuery, search as do_search
    from warehouse.store import Warehouse

    settings = _settings(config)
    query = SearchQuery(text, regex=regex, role=role, kind=kind, since=_day(since, "--since"),
                        until=_day(until, "--until"), collector=collector, limit=limit)
    path = _db(db, settings)
    if csv:
        if same_file(csv, path):
            _fail(f"--csv {csv} is the database; choose another file")
        check_output_file(csv, "--csv")
    try:
        with Warehouse(path, read_only=True) as wh:
            found = do_search(wh.con, query, settings.compliance.default_timezone)
    except SearchError as exc:
        _fail(str(exc))
    shown = f"{len(found.rows)} of {found.total} matching utterance(s)"
    if csv:
        try:
            write_csv(csv, COLUMNS, [{**r, "kinds": ",".join(r["kinds"])} for r in found.rows])
        except OSError as exc:
            _fail(f"cannot write {csv}: {exc.strerror or exc}")
        console.print(f"{shown} written to {csv}", highlight=False, soft_wrap=True, markup=False)
        return
    table = Table(title=Text(f"search {'/' + text + '/' if regex else repr(text)}: {shown}"))
    for col in ("call", "collector", "started (local)", "at", "role", "text", "flags"):
        table.add_column(col, overflow="fold")
    for r in found.rows:
        started = r["local_start"].strftime("%Y-%m-%d %H:%M") if r["local_start"] else ""
        table.add_row(*(Text(v) for v in (r["call_id"], r["collector_id"] or "", started, r["at"], r["role"] or "",
                                          r["text"] or "", ",".join(r["kinds"]))))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the QA commands to the ``callqa`` app."""
    app.command("report")(report)
    app.command("sample")(sample)
    app.command("review")(review)
    app.command("score")(score)
    app.command("search")(search)
