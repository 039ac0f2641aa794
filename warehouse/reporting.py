"""Read-only queries behind the QA report and the QA commands.

All reporting SQL lives in migration 002 (views and table macros); this module passes the
configured compliance settings to the macros and returns plain rows (dicts).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.settings import ComplianceSettings
from warehouse import logger
from warehouse.migrate import available
from warehouse.outcomes import OutcomeReports
from warehouse.store import Warehouse

Row = dict[str, Any]


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
    """Read-only access to the reporting views of one database.

    Args:
        db: an existing warehouse file (migrated first if its schema is behind).
        settings: compliance parameters from configuration.
    """

    def __init__(self, db: str | Path, settings: ComplianceSettings):
        if not Path(db).is_file():
            raise FileNotFoundError(f"database {db} does not exist")
        ensure_schema(db)
        self.settings = settings
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

    # -- overview ------------------------------------------------------------------------
    def kpis(self) -> Row:
        """Headline counts over every landed call."""
        tz = self.settings.default_timezone
        row = self.rows(
            "SELECT count(*) AS calls, coalesce(sum(duration_s), 0) / 3600.0 AS audio_hours,"
            " count(*) FILTER (WHERE flags > 0) AS flagged_calls, coalesce(sum(flags), 0) AS flags,"
            " coalesce(sum(own_violations), 0) AS own_violations,"
            " coalesce(sum(abuse_received + threats_received), 0) AS abuse_received,"
            " count(DISTINCT collector_id) AS collectors, min(local_date) AS first_day, max(local_date) AS last_day"
            " FROM call_facts(?)", [tz])[0]
        row["failed_calls"] = self.con.execute("SELECT count(*) FROM calls WHERE status = 'failed'").fetchone()[0]
        row["breaches"] = self.con.execute(
            "SELECT count(*) FROM compliance_breaches(?, ?, ?, ?, ?)", self._compliance_params()).fetchone()[0]
        row["reviewed"], row["pending"] = self.con.execute(
            "SELECT count(verdict), count(*) - count(verdict) FROM flagged_findings").fetchone()
        row["needs_review_roles"] = self.con.execute(
            "SELECT count(*) FROM calls WHERE status = 'ok' AND needs_review").fetchone()[0]
        return row

    def weekly_flags(self) -> list[Row]:
        """Flagged findings per local week and kind."""
        return self.rows(
            "SELECT date_trunc('week', cf.local_date)::DATE AS week, f.kind, count(*) AS n"
            " FROM flagged_findings f JOIN call_facts(?) cf USING (call_id) GROUP BY ALL ORDER BY week, kind",
            [self.settings.default_timezone])

    def weekly_calls(self) -> list[Row]:
        """Calls, abuse received and own violations per local week."""
        return self.rows(
            "SELECT date_trunc('week', local_date)::DATE AS week, count(*) AS calls,"
            " sum(abuse_received) AS abuse_received, sum(threats_received) AS threats_received,"
            " sum(own_violations) AS own_violations FROM call_facts(?) GROUP BY 1 ORDER BY 1",
            [self.settings.default_timezone])

    def collector_stats(self, grain: str = "week") -> list[Row]:
        """Per collector and day or week (see migration 002 for the stress index)."""
        if grain not in ("day", "week"):
            raise ValueError("grain must be 'day' or 'week'")
        return self.rows("SELECT * FROM collector_stats(?, ?) ORDER BY period, collector_id",
                         [self.settings.default_timezone, grain])

    def collector_totals(self) -> list[Row]:
        """Per collector over the whole period (grain 'year' buckets are merged here)."""
        return self.rows(
            "SELECT collector_id, any_value(team) AS team, sum(calls) AS calls, sum(call_min) AS call_min,"
            " sum(talk_min) AS talk_min, sum(abuse_received) AS abuse_received,"
            " sum(threats_received) AS threats_received, sum(own_violations) AS own_violations,"
            " sum(flagged_calls) AS flagged_calls,"
            " sum(calls * stress_index) / sum(calls) AS stress_index"
            " FROM collector_stats(?, 'week') GROUP BY 1 ORDER BY stress_index DESC, collector_id",
            [self.settings.default_timezone])

    def abuse_trend(self) -> list[Row]:
        return self.rows("SELECT * FROM abuse_trend(?) ORDER BY week, campaign, team",
                         [self.settings.default_timezone])

    def _compliance_params(self) -> list[Any]:
        s = self.settings
        return [s.default_timezone, s.calling_hours_start, s.calling_hours_end, s.max_attempts_7d,
                s.cooldown_days_after_contact]

    def compliance_breaches(self) -> list[Row]:
        """Cross-call compliance breaches with the configured hours, cap and cool-down."""
        return self.rows("SELECT * FROM compliance_breaches(?, ?, ?, ?, ?) ORDER BY started_at, rule",
                         self._compliance_params())

    def precision(self) -> list[Row]:
        return self.rows("SELECT * FROM detector_precision ORDER BY kind")

    def missed(self) -> list[Row]:
        return self.rows("SELECT * FROM missed_by_kind ORDER BY kind")

    def unflagged_reviewed(self) -> int:
        """Sampled unflagged calls with a call-level verdict."""
        return self.con.execute(
            "SELECT count(DISTINCT call_id) FROM reviews WHERE finding_id IS NULL").fetchone()[0]

    # -- review queue and calls ----------------------------------------------------------
    def flagged(self) -> list[Row]:
        """Flagged findings, unreviewed first, then by severity and time."""
        return self.rows(
            "SELECT * FROM flagged_findings ORDER BY verdict IS NOT NULL,"
            " list_position(['critical', 'high', 'medium', 'low'], severity), started_at, call_id, start_s")

    def calls(self) -> list[Row]:
        """Every landed call with its facts, newest first."""
        return self.rows(
            "SELECT cf.*, c.path, c.sha256, c.size_bytes, c.codec, c.channels, c.needs_review,"
            " c.diarization, c.asr_model, c.roles_confidence"
            " FROM call_facts(?) cf JOIN calls c USING (call_id) ORDER BY cf.started_at DESC NULLS LAST, call_id",
            [self.settings.default_timezone])

    def utterances(self, call_id: str) -> list[Row]:
        """A call's utterances (redacted text only; utterances_raw is never read)."""
        return self.rows(
            "SELECT idx, speaker, role, channel, start_s, end_s, text, labels, sentiment"
            " FROM utterances WHERE call_id = ? ORDER BY idx", [call_id])

    def findings(self, call_id: str) -> list[Row]:
        """All of a call's findings (info included) with the latest current verdict."""
        return self.rows(
            "SELECT f.finding_id, f.kind, f.role, f.severity, f.score, f.rule_id, f.utterance_idx,"
            " f.start_s, f.end_s, f.evidence,"
            " CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.verdict END AS verdict,"
            " CASE WHEN r.kind IS NOT DISTINCT FROM f.kind THEN r.reviewer END AS reviewer"
            " FROM findings f LEFT JOIN finding_reviews r USING (finding_id)"
            " WHERE f.call_id = ? ORDER BY f.start_s NULLS FIRST, f.finding_id", [call_id])

    def call_breaches(self) -> dict[str, list[Row]]:
        """Compliance breaches grouped by call id."""
        out: dict[str, list[Row]] = {}
        for row in self.compliance_breaches():
            out.setdefault(row["call_id"], []).append(row)
        return out
