"""What calls achieved, for managers: dispositions, promises kept or broken, follow-ups, and
the collection-rule breaches (rows for the report and the CLI).

The SQL is in migration 015 (``call_outcomes``, ``promise_status``, ``follow_ups``,
``outcomes_weekly``, ``breaches_*``); these methods pass the configured timezone, the as-of
date (today in the default timezone unless given) and the rule numbers. ``Reports`` (in
warehouse.reporting) has them.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.settings import ComplianceSettings
from warehouse.breaches import collection_breaches, first_breaches

Row = dict[str, Any]
PROMISE_STATUSES = ("kept", "broken", "pending", "open", "unknown")


class OutcomeReports:
    """Outcome rows of one database (mixed into warehouse.reporting.Reports, which gives
    ``con``, ``settings`` and ``rows``)."""

    settings: ComplianceSettings

    def as_of(self) -> date:
        """Today in the default timezone: promises due before it and unpaid are broken."""
        return datetime.now(ZoneInfo(self.settings.default_timezone)).date()

    def outcomes_weekly(self, as_of: date | None = None) -> list[Row]:
        """Per collector and local week: dispositions, RPC and promise rates, promises kept/broken."""
        return self.rows("SELECT * FROM outcomes_weekly(?, ?) ORDER BY week, collector_id",
                         [self.settings.default_timezone, as_of or self.as_of()])

    def outcome_totals(self, as_of: date | None = None) -> Row:
        """The same figures over every landed call."""
        row = self.rows(
            "SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(right_party), 0) AS right_party,"
            " sum(right_party) / nullif(sum(calls) FILTER (WHERE rpc_rate IS NOT NULL), 0) AS rpc_rate,"
            " coalesce(sum(promise_calls), 0) AS promise_calls,"
            " sum(promise_calls) / nullif(sum(right_party), 0) AS promise_rate,"
            " coalesce(sum(promised_amount), 0) AS promised_amount, coalesce(sum(promises), 0) AS promises,"
            " coalesce(sum(promises_kept), 0) AS promises_kept, coalesce(sum(promises_broken), 0) AS promises_broken,"
            " coalesce(sum(promises_pending), 0) AS promises_pending,"
            " coalesce(sum(follow_up_calls), 0) AS follow_up_calls"
            " FROM outcomes_weekly(?, ?)", [self.settings.default_timezone, as_of or self.as_of()])[0]
        row["payments_imported"] = self.rows("SELECT count(*) AS n FROM payments")[0]["n"] > 0
        row["attempts_imported"] = self.rows("SELECT count(*) AS n FROM attempts")[0]["n"]
        return row

    def promise_status(self, as_of: date | None = None, status: str | None = None) -> list[Row]:
        """Every promise with what was paid and its status (kept, broken, pending, open, unknown)."""
        if status is not None and status not in PROMISE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(PROMISE_STATUSES)}")
        return self.rows("SELECT * FROM promise_status(?, ?) WHERE (? IS NULL OR status = ?)"
                         " ORDER BY due_date NULLS LAST, started_at, finding_id",
                         [self.settings.default_timezone, as_of or self.as_of(), status, status])

    def follow_ups(self) -> list[Row]:
        """Hardship and complaint-threat findings not reviewed yet, oldest first."""
        return self.rows("SELECT * FROM follow_ups(?) ORDER BY started_at, call_id, start_s",
                         [self.settings.default_timezone])

    def dispositions(self) -> dict[str, str | None]:
        """call_id -> disposition of every landed call."""
        return {r["call_id"]: r["disposition"] for r in self.rows(
            "SELECT call_id, disposition FROM calls WHERE status = 'ok'")}

    def collection_breaches(self, since: date | None = None, until: date | None = None) -> list[Row]:
        """Breaches of the configured collection rules over attempts and recordings."""
        return collection_breaches(self.con, self.settings, since, until)  # type: ignore[attr-defined]

    def first_collection_breaches(self, since: date | None, until: date | None, limit: int) -> tuple[list[Row], int]:
        """The first ``limit`` of collection_breaches(since, until), and how many there are."""
        return first_breaches(self.con, self.settings, since, until, limit)  # type: ignore[attr-defined]
