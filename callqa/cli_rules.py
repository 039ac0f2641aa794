"""``callqa rules check``: validate folders of rule packs without running anything
(registered by callqa.cli), and the catalog check the commands that analyse share."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from callqa.cli_common import fail, one_line
from core.settings import Settings

console = Console()
err = Console(stderr=True, soft_wrap=True)

rules_app = typer.Typer(help="Check rule packs: QA categories and replaced detector packs (\\[analysis] rules_dirs).",
                        no_args_is_help=True)


def catalog_or_fail(settings: Settings):
    """The rules catalog of ``settings.analysis.rules_dirs`` (None when there are none), or a
    one-line error naming the file, the rule and the reason (exit 2)."""
    from analysis.rules import PackError, catalog

    dirs = settings.analysis.rules_dirs
    if not dirs:
        return None
    try:
        return catalog(dirs)
    except PackError as exc:
        fail(f"analysis.rules_dirs: {exc}")


@rules_app.command("check")
def check(dirs: list[Path] = typer.Argument(..., metavar="DIR",
                                           help="Folders of rule packs (*.yaml), as in \\[analysis] rules_dirs.")) -> None:
    """Validate every pack in DIR without running anything: a summary (exit 0) or one line per problem (exit 2).

    A problem names the file, the rule id and the reason (unknown slot, bad regex, unknown condition,
    missing field, wrong type, a name taken by a built-in)."""
    from analysis.rules import PackProblem, scan

    overrides, categories, problems = scan([str(d) for d in dirs])
    for d in dirs:
        if d.is_dir() and not any(p.suffix in (".yaml", ".yml") for p in d.iterdir()):
            problems.append(PackProblem(str(d), "no rule packs (*.yaml) in this folder"))
    if problems:
        for problem in problems:
            err.print(f"[red]error:[/red] {escape(one_line(problem))}", highlight=False)
        raise typer.Exit(2)
    packs = {**overrides, **categories}
    n_rules = sum(len(p.rules) for p in packs.values())
    console.print(f"ok: {len(packs)} pack(s), {n_rules} rule(s): {len(categories)} categor"
                  f"{'y' if len(categories) == 1 else 'ies'}, {len(overrides)} replaced built-in pack(s)",
                  highlight=False, soft_wrap=True)
    for name, p in sorted(packs.items()):
        calls = sum(r.conditions is not None for r in p.rules)
        what = "category" if p.category else "replaces"
        detail = f"{len(p.rules)} rule(s)" + (f", {calls} call-level" if calls else "")
        console.print(f"  {what:9} {name:28} v{p.version:12} {detail:26} {p.source.name}", highlight=False,
                      soft_wrap=True)


@rules_app.command("apply")
def apply(db: Optional[Path] = typer.Option(None, "--db", help="DuckDB file (default from config: var/callqa.duckdb)."),
          config: Optional[Path] = typer.Option(None, "--config", "-c",
                                                help="TOML configuration file (default: ./callqa.toml).")) -> None:
    """Apply the configured categories (\\[analysis] rules_dirs) to every call already in the warehouse.

    Calls are read back from the database (redacted text, roles, times, sentiment, metrics): nothing is
    transcribed again. Each call's findings of those categories are replaced, one batch per transaction."""
    from callqa.cli_common import settings as load_settings
    from flows.categorize import apply_categories

    settings = load_settings(config)
    rules = catalog_or_fail(settings)
    if rules is None or not rules.categories:
        fail("no categories configured: set [analysis] rules_dirs to folders of category packs")
    path = db or Path(settings.warehouse.db)
    if not path.is_file():
        fail(f"database {path} does not exist")
    done = apply_categories(path, rules)
    console.print(f"{len(done.categories)} categor{'y' if len(done.categories) == 1 else 'ies'} on {done.calls} call(s): "
                  f"{done.found} finding(s) (there were {done.removed})", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``callqa rules`` to the ``callqa`` app."""
    app.add_typer(rules_app, name="rules")
