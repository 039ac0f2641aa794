"""The dialer's attempt log and the payments file: ``callqa import-attempts`` / ``import-payments``.

Both are CSV files (UTF-8 with or without BOM, UTF-16 with BOM, or GB18030/GBK, as the review
import reads them; comma, tab or semicolon separated; spreadsheet formula quotes undone). Every
row is checked first; any bad row imports nothing. A file imports in one transaction and one
Arrow insert; a row whose natural key is already in the warehouse (or appears again later in
the same file) is not stored twice, so importing a file again adds nothing.

* attempts: ``account_id, phone, started_at, timezone, answered, collector_id`` (``timezone``
  and ``collector_id`` may be empty or missing). Key: account, phone number, start time. The
  number itself is never stored: a SHA-256 digest of its digits and its last four digits.
* payments: ``account_id, paid_at, amount`` (optional ``timezone``). Key: account, time, amount.

A time without an offset is local time in the row's ``timezone`` (default: [compliance]
default_timezone); a payment's date without a time is that day's 00:00 there.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from core.csvsafe import restore_cell
from warehouse import logger
from warehouse.review import read_text
from warehouse.store import Warehouse

TS = pa.timestamp("us", tz="UTC")
ATTEMPT_COLUMNS = ("account_id", "phone", "started_at", "answered")
PAYMENT_COLUMNS = ("account_id", "paid_at", "amount")
_TRUE = {"1", "true", "t", "yes", "y", "answered", "是", "接通", "已接通"}
_FALSE = {"0", "false", "f", "no", "n", "unanswered", "否", "未接通", "未接"}
_AMOUNT = re.compile(r"^\d+(?:\.\d+)?$")
MAX_ID = 200


class LogImportError(ValueError):
    """The file cannot be imported at all (unreadable, columns missing)."""


@dataclass(slots=True)
class LogImport:
    """What an import did: rows added, rows already there (or repeated in the file), bad rows."""

    added: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return next((d for d in (",", "\t", ";") if d in header), ",")


def _rows(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of every data row, cells stripped and formula quotes undone."""
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        names = [(n or "").strip().lower() for n in reader.fieldnames or []]
        missing = [c for c in required if c not in names]
        if missing:
            raise LogImportError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(names) or 'none'})")
        reader.fieldnames = names
        out = []
        for row in reader:
            cells = {k: restore_cell((v or "").strip()) for k, v in row.items() if k}
            if any(cells.values()):
                out.append((reader.line_num, cells))
        return out
    except csv.Error as exc:
        raise LogImportError(f"{path}: line {reader.line_num + 1}: {exc}") from None


def _ident(row: dict[str, str], key: str, *, required: bool = True) -> str | None:
    value = row.get(key) or ""
    if not value:
        if required:
            raise ValueError(f"{key} is empty")
        return None
    if len(value) > MAX_ID or any(ord(ch) < 32 for ch in value):
        raise ValueError(f"{key} is longer than {MAX_ID} characters or has control characters")
    return value


def _zone(row: dict[str, str], default_tz: str) -> str:
    name = row.get("timezone") or default_tz
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None
    return name


def _time(raw: str, tz: str, key: str, *, date_only: bool = False) -> datetime:
    """An ISO-8601 time (local in ``tz`` without an offset; a date alone when ``date_only``), in UTC."""
    if not raw:
        raise ValueError(f"{key} is empty")
    try:
        value = datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise ValueError(f"{key} {raw!r} is not an ISO-8601 time (2026-11-12T10:00:00+08:00)") from None
    if not date_only and len(raw) <= 10:
        raise ValueError(f"{key} {raw!r} has no time of day")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(timezone.utc)


def phone_key(raw: str) -> tuple[str, str]:
    """(digest, last four digits) of a phone number: digits only, a +86/0086 prefix dropped."""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 5:
        raise ValueError("phone has fewer than 5 digits")
    return hashlib.sha256(f"callqa-phone:{digits}".encode()).hexdigest()[:32], digits[-4:]


def _answered(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"answered {raw!r} is not true/false (1/0, yes/no, 是/否)")


def _amount(raw: str) -> float:
    value = re.sub(r"[\s,¥￥元]|^RMB|^CNY", "", raw, flags=re.IGNORECASE)
    if not _AMOUNT.match(value) or float(value) <= 0:
        raise ValueError(f"amount {raw!r} is not a positive number of yuan")
    return float(value)


def _parse(path: str | Path, required: tuple[str, ...],
           parse: Callable[[dict[str, str]], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    records, errors = [], []
    for line, row in _rows(path, required):
        try:
            records.append(parse(row))
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
    return records, errors


def _insert(db: str | Path, table: str, schema: pa.Schema, records: list[dict[str, Any]], key: tuple[str, ...],
            result: LogImport) -> LogImport:
    """Insert the records whose key is new (file order: the last of repeated keys counts) in one
    transaction and one Arrow insert. ``table`` and ``key`` come from this module only."""
    unique = {tuple(r[k] for k in key): r for r in records}
    incoming = pa.Table.from_pylist(list(unique.values()), schema=schema)
    on = " AND ".join(f"t.{k} = i.{k}" for k in key)
    with Warehouse(db, existing=True) as wh:
        con = wh.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("incoming_rows", incoming)
            result.added = con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows i"
                f" WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})").fetchone()[0]
            con.unregister("incoming_rows")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    result.duplicates = len(records) - result.added
    return result


ATTEMPTS = pa.schema([
    ("attempt_id", pa.string()), ("account_id", pa.string()), ("phone_hash", pa.string()), ("phone_tail", pa.string()),
    ("started_at", TS), ("timezone", pa.string()), ("answered", pa.bool_()), ("collector_id", pa.string()),
    ("source", pa.string()), ("imported_at", TS),
])
PAYMENTS = pa.schema([
    ("account_id", pa.string()), ("paid_at", TS), ("amount", pa.float64()), ("timezone", pa.string()),
    ("source", pa.string()), ("imported_at", TS),
])


def import_attempts(db: str | Path, path: str | Path, default_tz: str) -> LogImport:
    """Load a dialer attempt log into ``attempts`` (see the module docstring).

    Raises:
        LogImportError / ReviewError (both ValueError): the file cannot be read or lacks columns.
    """
    now, source = datetime.now(timezone.utc), str(Path(path).resolve())

    def parse(row: dict[str, str]) -> dict[str, Any]:
        account = _ident(row, "account_id")
        tz = _zone(row, default_tz)
        started = _time(row.get("started_at", ""), tz, "started_at")
        digest, tail = phone_key(row.get("phone", ""))
        key = f"{account}\x1f{digest}\x1f{started.isoformat()}"
        return dict(attempt_id="att-" + hashlib.sha256(key.encode()).hexdigest()[:16], account_id=account,
                    phone_hash=digest, phone_tail=tail, started_at=started, timezone=tz,
                    answered=_answered(row.get("answered", "")), collector_id=_ident(row, "collector_id", required=False),
                    source=source, imported_at=now)

    records, errors = _parse(path, ATTEMPT_COLUMNS, parse)
    if errors:
        return LogImport(errors=errors)
    result = _insert(db, "attempts", ATTEMPTS, records, ("attempt_id",), LogImport())
    logger.info("attempts: %d added, %d already there", result.added, result.duplicates)
    return result


def import_payments(db: str | Path, path: str | Path, default_tz: str) -> LogImport:
    """Load a payments file into ``payments`` (see the module docstring).

    Raises:
        LogImportError / ReviewError (both ValueError): the file cannot be read or lacks columns.
    """
    now, source = datetime.now(timezone.utc), str(Path(path).resolve())

    def parse(row: dict[str, str]) -> dict[str, Any]:
        tz = _zone(row, default_tz)
        return dict(account_id=_ident(row, "account_id"),
                    paid_at=_time(row.get("paid_at", ""), tz, "paid_at", date_only=True),
                    amount=_amount(row.get("amount", "")), timezone=tz, source=source, imported_at=now)

    records, errors = _parse(path, PAYMENT_COLUMNS, parse)
    if errors:
        return LogImport(errors=errors)
    result = _insert(db, "payments", PAYMENTS, records, ("account_id", "paid_at", "amount"), LogImport())
    logger.info("payments: %d added, %d already there", result.added, result.duplicates)
    return result
