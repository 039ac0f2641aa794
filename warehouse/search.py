"""Search what was said across the warehouse (``callqa search``).

Only the redacted ``utterances.text`` is searched and returned (``utterances_raw`` is never
read). One query: the calls are narrowed first (landed, collector, local dates), and the text
predicate (``contains``, or ``regexp_matches`` with RE2 syntax) runs inside the utterances scan;
every value is a parameter. ``kind`` keeps utterances that carry a finding of that kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from core.domain import ROLES

MAX_LIMIT = 100_000
COLUMNS = ("call_id", "collector_id", "local_start", "at", "start_s", "role", "text", "kinds")
# The call's start in the debtor's timezone (else the default, a parameter) and its local day.
_LOCAL_START = "timezone(coalesce(nullif(c.timezone, ''), ?), c.started_at)"
_LOCAL_DATE = f"coalesce({_LOCAL_START}, c.landed_at)::DATE"


class SearchError(ValueError):
    """A search that cannot run: nothing to look for, a bad regular expression, a bad filter."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for and where.

    Attributes:
        text: a substring (exact, case-sensitive), or an RE2 regular expression when ``regex``.
        role: only utterances of this role.
        kind: only utterances that carry a finding of this kind (threat, abuse, a category...).
        since / until: the call's local date (the debtor's timezone), both ends included.
        collector: only calls of this collector id.
        limit: at most this many rows, newest calls first.
    """

    text: str
    regex: bool = False
    role: str | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    collector: str | None = None
    limit: int = 100


@dataclass(slots=True)
class SearchResult:
    rows: list[dict[str, Any]]
    total: int          # matching utterances in all (rows holds the first ``limit``)


def _mmss(seconds: float | None) -> str:
    s = max(0, int(seconds or 0))
    return f"{s // 60:02d}:{s % 60:02d}"


def _check(q: SearchQuery) -> None:
    if not q.text:
        raise SearchError("give the text to search for")
    if q.role is not None and q.role not in ROLES:
        raise SearchError(f"role must be one of {', '.join(ROLES)}, not {q.role!r}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT:,}, not {q.limit}")
    if q.since and q.until and q.since > q.until:
        raise SearchError(f"since {q.since} is after until {q.until}")


def search(con: duckdb.DuckDBPyConnection, q: SearchQuery, default_tz: str) -> SearchResult:
    """Utterances matching ``q``, newest calls first, then in call order.

    Each row: call_id, collector_id, local_start (the call's start, local time), at (mm:ss
    into the call), start_s, role, text (redacted), kinds (finding kinds above info on it).

    Raises:
        SearchError: bad query or regular expression.
    """
    _check(q)
    calls, call_params = ["c.status = 'ok'"], []
    if q.collector is not None:
        calls.append("c.collector_id = ?")
        call_params.append(q.collector)
    if q.since is not None:
        calls.append(f"{_LOCAL_DATE} >= ?")
        call_params += [default_tz, q.since]
    if q.until is not None:
        calls.append(f"{_LOCAL_DATE} <= ?")
        call_params += [default_tz, q.until]
    utts = ["regexp_matches(u.text, ?)" if q.regex else "contains(u.text, ?)"]
    utt_params: list[Any] = [q.text]
    if q.role is not None:
        utts.append("u.role = ?")
        utt_params.append(q.role)
    if q.kind is not None:
        utts.append("EXISTS (SELECT 1 FROM findings f WHERE f.call_id = u.call_id AND f.utterance_idx = u.idx"
                    " AND f.kind = ?)")
        utt_params.append(q.kind)
    sql = (
        f"WITH picked AS (SELECT c.call_id, c.collector_id, c.started_at, {_LOCAL_START} AS local_start"
        f" FROM calls c WHERE {' AND '.join(calls)})"
        " SELECT u.call_id, p.collector_id, p.local_start, u.idx, u.start_s, u.role, u.text,"
        " count(*) OVER () AS total"
        f" FROM utterances u JOIN picked p USING (call_id) WHERE {' AND '.join(utts)}"
        " ORDER BY p.started_at DESC NULLS LAST, u.call_id, u.idx LIMIT ?")
    try:
        found = con.execute(sql, [default_tz] + call_params + utt_params + [q.limit]).fetchall()
    except duckdb.InvalidInputException as exc:
        if q.regex:
            raise SearchError(f"bad regular expression {q.text!r}: {str(exc).splitlines()[0]}") from None
        raise
    kinds: dict[tuple[str, int], list[str]] = {}
    if found:
        for cid, idx, kind_list in con.execute(
                "SELECT call_id, utterance_idx, list(DISTINCT kind ORDER BY kind) FROM findings"
                " WHERE severity <> 'info' AND utterance_idx IS NOT NULL"
                " AND call_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
                [sorted({r[0] for r in found})]).fetchall():
            kinds[(cid, idx)] = kind_list
    rows = [dict(call_id=cid, collector_id=collector, local_start=local_start, at=_mmss(start), start_s=start,
                 role=role, text=text, kinds=kinds.get((cid, idx), []))
            for cid, collector, local_start, idx, start, role, text, _ in found]
    return SearchResult(rows, found[0][-1] if found else 0)
