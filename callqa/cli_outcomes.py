"""Collection commands: ``callqa import-attempts``, ``import-payments`` and ``breaches``
(registered by callqa.cli)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callqa.cli_common import parse_day as _day
from callqa.cli_common import check_output_file, fail as _fail
from callqa.cli_common import settings as _settings
from core.settings import Settings, load_settings

console = Console()
err = Console(stderr=True, soft_wrap=True)

DbOpt = typer.Option(None, "--db", help="DuckDB file (default from config: var/callqa.duckdb).")
ConfigOpt = typer.Option(None, "--config", "-c", help="TOML configuration file (default: ./callqa.toml).")


def _db(db: Optional[Path], settings: Settings) -> Path:
    path = db or Path(settings.warehouse.db)
    if not path.exists():
        _fail(f"database {path} does not exist (run `callqa run ARCHIVE --db {path}` first)")
    return path


def _import(kind: str, csv_file: Path, db: Optional[Path], config: Optional[Path]) -> None:
    from warehouse.collection_logs import import_attempts, import_payments

    settings = _settings(config)
    path = _db(db, settings)
    if not csv_file.is_file():
        _fail(f"{csv_file} does not exist or is not a file")
    do = import_attempts if kind == "attempts" else import_payments
    try:
        result = do(path, csv_file, settings.compliance.default_timezone)
    except ValueError as exc:
        _fail(str(exc))
    for line in result.errors[:50]:
        err.print(f"  [yellow]{escape(line)}[/yellow]", highlight=False)
    if result.errors:
        more = " (first 50 shown)" if len(result.errors) > 50 else ""
        _fail(f"{len(result.errors)} bad row(s){more}; nothing imported", code=1)
    console.print(f"imported {result.added} {kind[:-1]} row(s) ({result.duplicates} already there)", highlight=False)


def import_attempts(
    csv_file: Path = typer.Argument(..., metavar="CSV", help="Dialer log: account_id, phone, started_at, timezone, "
                                    "answered, collector_id."),
    db: Optional[Path] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Load the dialer's attempt log (every attempt, answered or not) for the collection rules.

    Importing the same rows again adds nothing (key: account, phone, start). Phone numbers are
    stored as a digest and their last four digits only."""
    _import("attempts", csv_file, db, config)


def import_payments(
    csv_file: Path = typer.Argument(..., metavar="CSV", help="Payments: account_id, paid_at, amount (yuan)."),
    db: Optional[Path] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Load payments received, so that promises to pay are judged kept or broken.

    Importing the same rows again adds nothing (key: account, paid_at, amount)."""
    _import("payments", csv_file, db, config)


def _profile_settings(config: Optional[Path], profile: Optional[str]) -> Settings:
    """The configuration with ``--profile`` in place of [compliance] profile: the profile's
    values, with the keys the configuration sets explicitly still overriding them."""
    if profile is None:
        return _settings(config)
    try:
        return load_settings(config, environ={**os.environ, "CALLQA_COMPLIANCE__PROFILE": profile})
    except ValueError as exc:
        _fail(f"configuration: {exc}")


def breaches(
    db: Optional[Path] = DbOpt,
    profile: Optional[str] = typer.Option(None, "--profile", help="Rule profile: cn-2025, cba-2026 or us-regf "
                                          "(default: [compliance] profile)."),
    since: Optional[str] = typer.Option(None, "--since", help="First local date (YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last local date (YYYY-MM-DD)."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the breaches to this CSV file."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """List every breach of the collection rules (rule, call or attempt, account, collector).

    Counts attempts from the dialer log (`import-attempts`) and landed recordings; a recording
    that is also in the log (same account, start within [compliance] attempt_match_s, 120 s)
    counts once."""
    from core.csvsafe import write_csv
    from core.files import same_file
    from warehouse.breaches import BREACH_COLUMNS, RULE_TITLES
    from warehouse.reporting import Reports

    first, last = _day(since, "--since"), _day(until, "--until")
    if first and last and first > last:
        _fail(f"--since {since} is after --until {until}")
    settings = _profile_settings(config, profile)
    path = _db(db, settings)
    if csv is not None:
        check_output_file(csv, "--csv", folder_must_exist=True)
        if same_file(csv, path):
            _fail(f"--csv {csv} is the database; choose another file")
    with Reports(path, settings.compliance) as rep:
        rows = rep.collection_breaches(first, last)
    c = settings.compliance
    table = Table(title=f"{len(rows)} breach(es), profile {c.profile or '(none)'}: {', '.join(c.rules) or 'no rules'}")
    for col in ("rule", "call / attempt", "local start", "account", "collector", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(RULE_TITLES.get(r["rule"], r["rule"]), r["call_id"] or r["attempt_id"],
                      r["local_start"].strftime("%Y-%m-%d %H:%M") if r["local_start"] else "",
                      r["account_id"] or "", r["collector_id"] or "", r["detail"] or "")
    console.print(table)
    if csv is not None:
        try:
            write_csv(csv, BREACH_COLUMNS, rows)
        except OSError as exc:
            _fail(f"cannot write {csv}: {exc.strerror or exc}")
        console.print(f"written to {csv}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the collection commands to the ``callqa`` app."""
    app.command("import-attempts")(import_attempts)
    app.command("import-payments")(import_payments)
    app.command("breaches")(breaches)
