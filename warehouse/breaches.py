"""Collection-rule breaches over the dialer's attempts and the landed recordings.

The rules are table macros of migration 015 (``breaches_<rule>``), all over
``contact_events``: every attempt of the attempt log, and every recording not in it (a
recording and an attempt of the same account that started within ``attempt_match_s`` seconds
of each other are one call, counted once). Which rules run and their numbers come from
``[compliance]`` (a rule profile, overridden key by key by the configuration).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import duckdb

from core.settings import COLLECTION_RULES, ComplianceSettings

Row = dict[str, Any]
BREACH_COLUMNS = ("rule", "event", "call_id", "attempt_id", "account_id", "collector_id", "phone", "started_at",
                  "local_start", "detail")
# rule -> (macro, its parameters after (default_tz, match_s)); macro names are this fixed list
RULE_MACROS: dict[str, tuple[str, Callable[[ComplianceSettings], list[Any]]]] = {
    "calling_hours": ("breaches_calling_hours", lambda s: [s.calling_hours_start, s.calling_hours_end]),
    "attempts_7d": ("breaches_attempts_7d", lambda s: [s.max_attempts_7d]),
    "cooldown_after_contact": ("breaches_cooldown_after_contact", lambda s: [s.cooldown_days_after_contact]),
    "effective_calls_per_day": ("breaches_effective_calls_per_day", lambda s: [s.max_effective_calls_per_day]),
    "unanswered_per_number_per_day": ("breaches_unanswered_per_number_per_day",
                                      lambda s: [s.max_unanswered_per_number_per_day]),
    "third_party_after_failed_attempts": ("breaches_third_party_after_failed_attempts",
                                          lambda s: [s.third_party_after_failed_attempts]),
    "cease_contact": ("breaches_cease_contact", lambda s: []),
}
RULE_TITLES = {
    "calling_hours": "outside calling hours",
    "attempts_7d": "over the 7-day attempt cap",
    "cooldown_after_contact": "within the cool-down after a conversation",
    "effective_calls_per_day": "over the daily cap of effective calls",
    "unanswered_per_number_per_day": "over the daily cap of unanswered attempts to a number",
    "third_party_after_failed_attempts": "third party called too early",
    "cease_contact": "called after a cease-contact request",
}
assert set(RULE_MACROS) == set(COLLECTION_RULES) == set(RULE_TITLES)


def _breaches_sql(settings: ComplianceSettings) -> tuple[str, list[Any]] | None:
    """The union of the configured rules' macros, filtered to a range of local dates (four
    parameters to append: since, since, until, until), with its parameters; None: no rule."""
    parts, params = [], []
    for rule in dict.fromkeys(settings.rules):
        macro, extra = RULE_MACROS[rule]
        values = [settings.default_timezone, settings.attempt_match_s, *extra(settings)]
        parts.append(f"SELECT {', '.join(BREACH_COLUMNS)} FROM {macro}({', '.join('?' * len(values))})")
        params += values
    if not parts:
        return None
    return (f"SELECT * FROM ({' UNION ALL '.join(parts)})"
            " WHERE (CAST(? AS DATE) IS NULL OR local_start::DATE >= CAST(? AS DATE))"
            " AND (CAST(? AS DATE) IS NULL OR local_start::DATE <= CAST(? AS DATE))", params)


def collection_breaches(con: duckdb.DuckDBPyConnection, settings: ComplianceSettings,
                        since: date | None = None, until: date | None = None) -> list[Row]:
    """Every breach of the configured rules, ordered by time: dicts with ``BREACH_COLUMNS``
    (``since``/``until`` as in first_breaches)."""
    return first_breaches(con, settings, since, until)[0]


def first_breaches(con: duckdb.DuckDBPyConnection, settings: ComplianceSettings,
                   since: date | None = None, until: date | None = None,
                   limit: int | None = None) -> tuple[list[Row], int]:
    """The breaches of the configured rules, ordered by time (dicts with ``BREACH_COLUMNS``;
    the first ``limit`` when given), and how many there are in all.

    Args:
        since / until: keep breaches whose local date (the debtor's) is in this range
            (inclusive); the rules still look at everything before ``since``.
    """
    query = _breaches_sql(settings)
    if query is None:
        return [], 0
    sql, params = query
    params += [since, since, until, until]
    sql = (f"SELECT *, count(*) OVER () AS _total FROM ({sql})"
           " ORDER BY started_at, rule, account_id, call_id NULLS LAST, attempt_id")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    total = rows[0]["_total"] if rows else 0
    for row in rows:
        del row["_total"]
    return rows, total
