"""Apply numbered SQL migrations (``NNN_name.sql``) once each, recorded in schema_migrations."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from warehouse import logger

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class WarehouseError(Exception):
    """The database cannot be used as it is: missing, not DuckDB, not a callqa warehouse,
    written by a newer callqa, or not writable when it must be written."""


def available() -> list[tuple[int, str, Path]]:
    """All migration files in order as (version, name, path)."""
    found = []
    for path in MIGRATIONS_DIR.glob("*.sql"):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file {path.name} is not named NNN_name.sql")
        found.append((int(m.group(1)), m.group(2), path))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migration files share a version number")
    return found


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        " AND table_schema = 'main'").fetchall()}


def check_schema(con: duckdb.DuckDBPyConnection, *, empty_ok: bool) -> None:
    """Refuse what this callqa cannot use: a schema newer than its migrations, or a DuckDB
    file that is not a callqa warehouse (no ``schema_migrations``; an empty database is one
    when ``empty_ok``, i.e. when it is about to be migrated).

    Raises:
        WarehouseError: saying which.
    """
    tables = _tables(con)
    if "schema_migrations" not in tables:
        if tables or not empty_ok:
            raise WarehouseError("a DuckDB file but not a callqa warehouse (it has no schema_migrations table)")
        return
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    known = max(v for v, _, _ in available())
    if current > known:
        raise WarehouseError(f"database schema version {current} is newer than this callqa (knows up to {known});"
                             " upgrade callqa")


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations, each in its own transaction.

    Returns:
        The versions applied now (empty when the schema was current).
    Raises:
        WarehouseError: the database holds other tables but no schema_migrations, or its
            schema is newer than the migrations here.
    """
    check_schema(con, empty_ok=True)
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, path in available():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        logger.info("applied migration %03d_%s", version, name)
        applied.append(version)
    return applied
