"""Read-only queries behind the QA report and the QA commands.

All reporting SQL lives in migrations 002 and 009 (views and table macros); this module passes
the configured compliance settings and the report's window to the macros and returns plain
rows (dicts). Every query is about the calls started within the window (``Window``): DuckDB
reads the calls table by start time first and the child tables only for those calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from core.settings import ComplianceSettings
from warehouse import logger
from warehouse.call_rows import rows_of_calls
from warehouse.migrate import available
from warehouse.outcomes import OutcomeReports
from warehouse.store import Warehouse

Row = dict[str, Any]
# Local dates are in the debtor's timezone: a window of local dates lies within these
# offsets of its UTC dates (UTC+14 Kiribati, UTC-12 Baker Island).
_EAST, _WEST = timedelta(hours=14), timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Window:
    """The calls a report is about: those started on the local dates ``since`` to ``until``
    (inclusive) in the debtor's timezone (the default timezone when the call has none)."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise ValueError(f"the window starts ({self.since}) after it ends ({self.until})")

    @classmethod
    def everything(cls) -> "Window":
        """Every call ever landed."""
        return cls(date(1, 1, 2), date(9999, 12, 30))

    @classmethod
    def last_days(cls, days: int, tz: str, today: date | None = None) -> "Window":
        """The ``days`` local days ending today (in ``tz``)."""
        if days < 1:
            raise ValueError("a window is at least one day")
        end = today or datetime.now(ZoneInfo(tz)).date()
        return cls(end - timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def unbounded(self) -> bool:
        return self == Window.everything()

    def weeks_back(self, weeks: int) -> "Window":
        """The ``weeks`` whole weeks (Monday first) ending with the week of ``until``."""
        if self.unbounded:
            return self
        monday = self.until - timedelta(days=self.until.weekday())
        return Window(min(self.since, monday - timedelta(weeks=weeks - 1)), self.until)

    def params(self, tz: str) -> list[Any]:
        """(default_tz, lo_utc, hi_utc, since, until) for the window_* macros of migration 009."""
        lo = datetime.combine(self.since, time(), timezone.utc) - _EAST
        hi = datetime.combine(self.until + timedelta(days=1), time(), timezone.utc) + _WEST
        return [tz, lo, hi, self.since, self.until]

    def __str__(self) -> str:
        return "all calls" if self.unbounded else f"{self.since} – {self.until}"


def ensure_schema(db: str | Path) -> list[int]:
    """Apply pending migrations to an existing database (a short write) so read-only readers
    find the reporting views. Returns the versions applied (usually none)."""
    latest = max(v for v, _, _ in available())
    with Warehouse(db, read_only=True) as wh:
        current = wh.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    if current >= latest:
        return []
    logger.info("database %s is at schema %d, migrating to %d", db, current, latest)
    with Warehouse(db) as wh:
        applied = [v for (v,) in wh.con.execute(
            "SELECT version FROM schema_migrations WHERE version > ? ORDER BY version", [current]).fetchall()]
    return applied


class Reports(OutcomeReports):
    """Read-only access to the reporting views of one database, for the calls of one window.

    Args:
        db: an existing warehouse file (migrated first if its schema is behind).
        settings: compliance parameters from configuration.
        window: the calls reported on (default: every call).
    """

    def __init__(self, db: str | Path, settings: ComplianceSettings, window: Window | None = None):
        if not Path(db).is_file():
            raise FileNotFoundError(f"database {db} does not exist")
        ensure_schema(db)
        self.settings = settings
        self.window = window or Window.everything()
        self._wh = Warehouse(db, read_only=True)
        self.con = self._wh.con

    def close(self) -> None:
        self._wh.close()

    def __enter__(self) -> "Reports":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[Row]:
        """Run a query and return its rows as dicts."""
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def _w(self, window: Window | None = None) -> list[Any]:
        return (window or self.window).params(self.settings.default_timezone)

    def trend_window(self, weeks: int = 12) -> Window:
        """The weeks the trend charts cover: ``weeks`` weeks ending with the window's last."""
        return self.window.weeks_back(weeks)

    # -- overview ------------------------------------------------------------------------
    def kpis(self) -> Row:
        """Headline counts over the window's calls (no utterance is read)."""
        w = self._w()
        row = self.rows(
            "SELECT count(*) AS calls, coalesce(sum(duration_s), 0) / 3600.0 AS audio_hours,"
            " count(*) FILTER (WHERE flags > 0) AS flagged_calls, coalesce(sum(flags), 0) AS flags,"
            " coalesce(sum(own_violations), 0) AS own_violations,"
            " coalesce(sum(abuse_received + threats_received), 0) AS abuse_received,"
            " count(DISTINCT collector_id) AS collectors, min(local_date) AS first_day, max(local_date) AS last_day"
            " FROM window_finding_facts(?, ?, ?, ?, ?)", w)[0]
        row["failed_calls"], row["needs_review_roles"] = self.con.execute(
            "SELECT count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'ok' AND needs_review)"
            " FROM window_calls(?, ?, ?, ?, ?)", w).fetchone()
        row["breaches"] = self.compliance_breach_count()
        row["reviewed"], row["pending"] = self.con.execute(
            "SELECT count(verdict), count(*) - count(verdict) FROM window_flagged(?, ?, ?, ?, ?)", w).fetchone()
        return row

    def weekly_flags(self) -> list[Row]:
        """Flagged findings per local week and kind, over the trend weeks."""
        return self.rows(
            "SELECT date_trunc('week', local_date)::DATE AS week, kind, count(*) AS n"
            " FROM window_flagged(?, ?, ?, ?, ?) GROUP BY ALL ORDER BY week, kind", self._w(self.trend_window()))

    def weekly_calls(self) -> list[Row]:
        """Calls, abuse received and own violations per local week, over the trend weeks."""
        return self.rows(
            "SELECT date_trunc('week', local_date)::DATE AS week, count(*) AS calls,"
            " sum(abuse_received) AS abuse_received, sum(threats_received) AS threats_received,"
            " sum(own_violations) AS own_violations FROM window_finding_facts(?, ?, ?, ?, ?) GROUP BY 1 ORDER BY 1",
            self._w(self.trend_window()))

    def collector_stats(self, grain: str = "week") -> list[Row]:
        """Per collector and day or week of the window (see migration 002 for the stress index)."""
        if grain not in ("day", "week"):
            raise ValueError("grain must be 'day' or 'week'")
        tz, *bounds = self._w()
        return self.rows("SELECT * FROM window_collector_stats(?, ?, ?, ?, ?, ?) ORDER BY period, collector_id",
                         [tz, grain, *bounds])

    def collector_totals(self) -> list[Row]:
        """Per collector over the window (weekly buckets merged here)."""
        tz, *bounds = self._w()
        return self.rows(
            "SELECT collector_id, any_value(team) AS team, sum(calls) AS calls, sum(call_min) AS call_min,"
            " sum(talk_min) AS talk_min, sum(abuse_received) AS abuse_received,"
            " sum(threats_received) AS threats_received, sum(own_violations) AS own_violations,"
            " sum(flagged_calls) AS flagged_calls,"
            " sum(calls * stress_index) / sum(calls) AS stress_index"
            " FROM window_collector_stats(?, 'week', ?, ?, ?, ?) GROUP BY 1 ORDER BY stress_index DESC, collector_id",
            [tz, *bounds])

    def abuse_trend(self) -> list[Row]:
        """Customer abuse by week, campaign and team, over the trend weeks."""
        return self.rows("SELECT * FROM window_abuse_trend(?, ?, ?, ?, ?) ORDER BY week, campaign, team",
                         self._w(self.trend_window()))

    def _compliance_params(self) -> list[Any]:
        s = self.settings
        tz, *bounds = self._w()
        return [tz, s.calling_hours_start, s.calling_hours_end, s.max_attempts_7d,
                s.cooldown_days_after_contact, *bounds]

    _BREACHES = "SELECT * FROM window_breaches(?, ?, ?, ?, ?, ?, ?, ?, ?)"

    @cached_property
    def _breaches(self) -> str:
        """The name of a temp table holding the window's breaches, made on first use (the macro
        checks every call of the window against its account's earlier calls: seconds at a
        million calls, and a report asks for them four ways)."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE report_breaches AS {self._BREACHES}", self._compliance_params())
        return "report_breaches"

    def compliance_breaches(self, limit: int | None = None) -> list[Row]:
        """Cross-call compliance breaches of the window's calls with the configured hours, cap
        and cool-down (earlier calls count towards the cap and the cool-down), oldest first;
        ``limit``: only the first that many."""
        sql, params = f"SELECT * FROM {self._breaches} ORDER BY started_at, rule, call_id", []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self.rows(sql, params)

    def compliance_breach_count(self) -> int:
        return self.con.execute(f"SELECT count(*) FROM {self._breaches}").fetchone()[0]

    def breach_calls(self, without: Iterable[str] = (), limit: int | None = None) -> tuple[list[str], int]:
        """(the window's calls with a compliance breach, newest first, leaving out ``without``;
        limited to ``limit`` when given, how many there are in all)."""
        sql = (f"SELECT call_id, count(*) OVER () AS n FROM {self._breaches}"
               " WHERE call_id IS NOT NULL AND call_id NOT IN (SELECT unnest(?))"
               " GROUP BY call_id ORDER BY max(started_at) DESC NULLS LAST, call_id")
        params: list[Any] = [sorted(set(without))]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.con.execute(sql, params).fetchall()
        return [r[0] for r in rows], (rows[0][1] if rows else 0)

    def precision(self) -> list[Row]:
        return self.rows("SELECT * FROM window_precision(?, ?, ?, ?, ?) ORDER BY kind", self._w())

    def missed(self) -> list[Row]:
        return self.rows("SELECT * FROM window_missed(?, ?, ?, ?, ?) ORDER BY kind", self._w())

    def unflagged_reviewed(self) -> int:
        """The window's calls with a call-level verdict (sampled calls without flags)."""
        return self.con.execute(
            "SELECT count(DISTINCT call_id) FROM reviews WHERE finding_id IS NULL"
            " AND call_id IN (SELECT call_id FROM window_calls(?, ?, ?, ?, ?))", self._w()).fetchone()[0]

    # -- review queue and calls ----------------------------------------------------------
    def flagged(self, call_ids: Iterable[str] | None = None) -> list[Row]:
        """The window's flagged findings (of ``call_ids`` only, when given), unreviewed first,
        then by severity and time."""
        sql, params = "SELECT * FROM window_flagged(?, ?, ?, ?, ?)", self._w()
        if call_ids is not None:
            sql += " WHERE call_id IN (SELECT unnest(?))"
            params.append(sorted(set(call_ids)))
        return self.rows(sql + " ORDER BY verdict IS NOT NULL, list_position(['critical', 'high', 'medium', 'low'],"
                         " severity), started_at, call_id, start_s", params)

    def page_calls(self, limit: int | None = None) -> dict[str, list[str]]:
        """The window's calls that get a page, with why (flagged, sampled, reviewed), in the
        order pages are given out: sampled calls first, then reviewed, then flagged calls by
        their most severe finding, their number of flagged findings, newest first (a total
        order, so a rebuild picks the same calls). ``limit``: only the first that many."""
        sql = ("WITH p AS (SELECT * FROM window_page_calls(?, ?, ?, ?, ?)),"
               " sev AS (SELECT call_id, min(coalesce(list_position(['critical', 'high', 'medium', 'low'], severity), 5))"
               "         AS rank, count(*) AS n FROM findings"
               "         WHERE severity <> 'info' AND call_id IN (SELECT call_id FROM p) GROUP BY call_id)"
               " SELECT p.call_id, p.flagged, p.sampled, p.reviewed FROM p"
               " LEFT JOIN sev USING (call_id) JOIN calls c USING (call_id)"
               " ORDER BY p.sampled DESC, p.reviewed DESC, coalesce(sev.rank, 9), coalesce(sev.n, 0) DESC,"
               " c.started_at DESC NULLS LAST, p.call_id")
        params = self._w()
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return {r["call_id"]: [k for k in ("flagged", "sampled", "reviewed") if r[k]] for r in self.rows(sql, params)}

    def page_call_count(self) -> int:
        """How many of the window's calls qualify for a page (flagged, sampled or reviewed)."""
        return self.con.execute("SELECT count(*) FROM window_page_calls(?, ?, ?, ?, ?)", self._w()).fetchone()[0]

    def calls(self, call_ids: Iterable[str] | None = None) -> list[Row]:
        """The window's landed calls with their facts (only ``call_ids`` when given), newest first."""
        sql = ("SELECT cf.*, c.path, c.sha256, c.size_bytes, c.codec, c.channels, c.needs_review,"
               " c.diarization, c.asr_model, c.roles_confidence, c.landed_at"
               " FROM window_facts(?, ?, ?, ?, ?) cf JOIN calls c USING (call_id)")
        params = self._w()
        if call_ids is not None:
            sql += " WHERE call_id IN (SELECT unnest(?))"
            params.append(sorted(set(call_ids)))
        return self.rows(sql + " ORDER BY cf.started_at DESC NULLS LAST, call_id", params)

    def flag_kinds(self, call_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(kind, role) of every flagged finding (severity above info) of these calls, by call:
        what the report's call list filters on."""
        out: dict[str, list[tuple[str, str]]] = {}
        where, params = rows_of_calls(self.con, call_ids)
        for call_id, kind, role in self.con.execute(
                "SELECT DISTINCT call_id, kind, coalesce(role, 'unknown') FROM findings"
                f" WHERE {where} AND severity <> 'info' ORDER BY 1, 2, 3", params).fetchall():
            out.setdefault(call_id, []).append((kind, role))
        return out

    def utterances(self, call_ids: Iterable[str]) -> dict[str, list[Row]]:
        """These calls' utterances by call (redacted text only; utterances_raw is never read)."""
        out: dict[str, list[Row]] = {}
        where, params = rows_of_calls(self.con, call_ids)
        for row in self.rows(
                "SELECT call_id, idx, speaker, role, channel, start_s, end_s, text, labels, sentiment"
                f" FROM utterances WHERE {where} ORDER BY call_id, idx", params):
            out.setdefault(row.pop("call_id"), []).append(row)
        return out

    def findings(self, call_ids: Iterable[str]) -> dict[str, list[Row]]:
        """These calls' findings by call (info included) with the latest current verdict."""
        out: dict[str, list[Row]] = {}
        where, params = rows_of_calls(self.con, call_ids, "f")
        for row in self.rows(
                "SELECT f.call_id, f.finding_id, f.kind, f.role, f.severity, f.score, f.rule_id, f.utterance_idx,"
                " f.start_s, f.end_s, f.evidence,"
                " CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.verdict END AS verdict,"
                " CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewer END AS reviewer"
                " FROM findings f LEFT JOIN finding_reviews r USING (finding_id)"
                f" WHERE {where} ORDER BY f.call_id, f.start_s NULLS FIRST, f.finding_id", params):
            out.setdefault(row.pop("call_id"), []).append(row)
        return out

    def call_breaches(self, call_ids: Iterable[str] | None = None) -> dict[str, list[Row]]:
        """The window's compliance breaches grouped by call id (of ``call_ids`` only, when given)."""
        sql, params = f"SELECT * FROM {self._breaches}", []
        if call_ids is not None:
            sql += " WHERE call_id IN (SELECT unnest(?))"
            params.append(sorted(set(call_ids)))
        out: dict[str, list[Row]] = {}
        for row in self.rows(sql + " ORDER BY started_at, rule, call_id", params):
            out.setdefault(row["call_id"], []).append(row)
        return out
