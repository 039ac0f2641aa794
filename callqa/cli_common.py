"""What every ``callqa`` command shares: one-line errors and the checks made before any work.

Bad input gets ``error: <what is wrong>`` on one line and exit 2 (3 when the database is busy
with another writer), never a traceback. Known failures (a database that is busy, missing, not
a warehouse, of a newer schema or read-only; an operating-system error such as a full disk)
are turned into that by :class:`CallqaGroup` for every command; anything else reaching
:func:`run_app` is reported as ``error: <ExceptionType>: <message>``, and ``CALLQA_DEBUG=1``
shows its traceback.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from core.settings import Settings, load_settings

BUSY = 3  # exit code: the database is held by another writer
MAX_MESSAGE = 600
err = Console(stderr=True, soft_wrap=True)


def one_line(text: Any) -> str:
    """``text`` on one line (newlines folded), cut to a readable length."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {escape(one_line(message))}", highlight=False)
    raise typer.Exit(code)


def settings(path: Optional[Path], overrides: dict | None = None) -> Settings:
    """Settings from the config file and environment, or a one-line error (exit 2)."""
    try:
        return load_settings(path).with_overrides(overrides or {})
    except ValueError as exc:
        fail(f"configuration: {exc}")


def scorecards(settings: Settings, names: list[str] | None = None) -> list:
    """The scorecards named (default: those configured in ``[scoring]``), loaded and checked,
    or a one-line error naming the file and item (exit 2)."""
    from analysis.scorecards import ScorecardError, load_scorecards

    try:
        return load_scorecards(settings.scoring, names)
    except ScorecardError as exc:
        fail(f"scorecard: {exc}")


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def known_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for the failures bad input or a bad environment cause, else None.
    The warehouse classes are looked up only when their module was loaded (no import cost)."""
    store, migrate = sys.modules.get("warehouse.store"), sys.modules.get("warehouse.migrate")
    if store is not None and isinstance(exc, store.WarehouseBusy):
        return BUSY, str(exc)
    if migrate is not None and isinstance(exc, migrate.WarehouseError):
        return 2, str(exc)
    if isinstance(exc, OSError):
        return 2, _os_error(exc)
    return None


class CallqaGroup(TyperGroup):
    """The ``callqa`` command group: known failures of any command become one-line errors
    (usage mistakes are made one line by :func:`run_app`)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # noqa: BLE001  (re-raised unless known)
            known = known_error(exc)
            if known is None:
                raise
            fail(known[1], known[0])


def _usage_error(exc: Exception) -> int | None:
    """Show a Click usage error or other Click exception on one line; its exit code, or None
    when ``exc`` is not one. (Typer may vendor Click, so they are recognised by shape.)"""
    if not (hasattr(exc, "exit_code") and hasattr(exc, "format_message")):
        return None
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``callqa`` or ``callqa models``: the help
        exc.show()
        return exc.exit_code
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None)
    message = one_line(exc.format_message())
    hint = f" (see {command} --help)" if command else ""
    err.print(f"[red]error:[/red] {escape(f'{command}: {message}' if command else message)}{escape(hint)}",
              highlight=False)
    return exc.exit_code


def run_app(app: typer.Typer, args: list[str] | None = None) -> NoReturn:
    """Run the CLI and exit with its code. A usage mistake (unknown option, missing argument)
    is one line naming the command, exit 2; an unexpected exception is one line, exit 2,
    unless ``CALLQA_DEBUG`` is set."""
    try:
        code = app(args=args, prog_name="callqa", standalone_mode=False)
    except typer.Abort:
        err.print("aborted", highlight=False)
        code = 1
    except BrokenPipeError:  # the reader went away (``callqa ... | head``): stop quietly, as Click does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except Exception as exc:  # noqa: BLE001  (the last resort: never a traceback for the user)
        code = _usage_error(exc)
        if code is None:
            if os.environ.get("CALLQA_DEBUG"):
                raise
            err.print(f"[red]error:[/red] {escape(one_line(f'{type(exc).__name__}: {exc}'))}"
                      " (unexpected; CALLQA_DEBUG=1 shows the traceback)", highlight=False)
            code = 2
    sys.exit(code if isinstance(code, int) else 0)


def check_recordable(db: Path, what: str) -> None:
    """Before writing ``what`` (files callqa records in the database so purges reach them):
    stop when the record cannot be made, exit 2 (read-only, not a warehouse...) or 3 (busy)."""
    from warehouse.store import WarehouseBusy, WarehouseReadOnly, check_writable

    why = f"{what} are recorded in it so that purges reach them; nothing was written"
    try:
        check_writable(db)
    except WarehouseBusy as exc:
        fail(f"{exc}; {why} (try again when it is free)", BUSY)
    except WarehouseReadOnly as exc:
        fail(f"{exc}; {why}")


def check_output_file(path: Path, option: str, *, folder_must_exist: bool = False) -> None:
    """An output file given on the command line: not a folder, and (when ``folder_must_exist``)
    in a folder that exists. Checked before any work is done."""
    if path.is_dir():
        fail(f"{option} {path} is a folder; give a file name")
    if folder_must_exist and not path.parent.is_dir():
        fail(f"{option} {path}: folder {path.parent} does not exist")


def check_output_folder(path: Path, option: str) -> None:
    """An output folder given on the command line must not be an existing file."""
    if path.exists() and not path.is_dir():
        fail(f"{option} {path} is not a folder; choose another {option}")


def parse_day(value: Optional[str], option: str) -> Optional[date]:
    """A ``--since``/``--until`` value as a date (ISO ``YYYY-MM-DD``), or a one-line error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")
