"""Custom categories: what a QA lead defines in a rule pack, evaluated on one call.

A category is a pack in a folder of ``[analysis] rules_dirs`` whose name is not a built-in
(format: analysis/rules; ``kind: category`` says so explicitly). Every hit is a Finding of
kind = the pack name, with the rule's id, severity and score. A category has rules of two sorts:

* pattern rules (``patterns`` / ``intents``, exactly as in the built-in packs): one finding per
  matching utterance (the best-scoring rule), role = the speaker;
* condition rules (``conditions``): one finding per call when every condition holds.

Conditions (a list, all must hold; each item is one condition)::

    said:      {phrases: [您好, 你好], role: collector, first_s: 10}    # or last_s: 10
    not_said:  {phrases: ["{GREETING}"], role: collector, first_s: 10}
    near:      {a: 还款, b: 今天, within_chars: 8}       # or within_s: 5; role; ordered: true
    all: [...]   any: [...]   none: [...]                # nested conditions
    silence:             {above: 0.4}                    # share of the call nobody spoke
    interruptions:       {role: collector, above: 2}     # per minute of call (role: all roles)
    negative_share:      {role: customer, above: 0.5}    # share of the role's utterances
    negative_trajectory: {role: customer}                # min_drop 1.0, min_utterances 3

Phrases are regexes over the normalised text (Simplified, half-width punctuation) and may use
the pack's slots. ``role`` limits whose utterances count (an utterance of unknown role counts
for any role, as in pattern rules). ``first_s: N``: utterances starting in the first N seconds;
``last_s: N``: utterances ending in the last N seconds. ``near`` within N characters: both in
one utterance, at most N characters between them; within N seconds: the gap between their
utterances (0 in one utterance). Comparisons: ``above``, ``below``, ``at_least``, ``at_most``
(several: all hold); shares are 0..1.

The input is a :class:`CategoryView` (utterances with role, times, text, normalised text and
sentiment, the call's RoleMetrics and duration), so categories can be evaluated on a call
read back from the warehouse as well as during analysis: ``evaluate_categories(view, catalog)``.
Rules needing times (``first_s``, ``last_s``, ``within_s``) are skipped when the view is not
``timed``; rules needing metrics (``silence``, ``interruptions``) when it has none.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.domain import PARTY_ROLES, Finding, RoleMetrics, norm_role

from analysis.normalize import normalize
from analysis.pii import redact
from analysis.rules import Catalog, Rule, RulePack, compile_regex, number, strings

logger = logging.getLogger("analysis")

TIME, METRICS = "time", "metrics"
_SENT_VALUE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
_COMPARE = {"above": (">", lambda x, v: x > v), "below": ("<", lambda x, v: x < v),
            "at_least": (">=", lambda x, v: x >= v), "at_most": ("<=", lambda x, v: x <= v)}


# ---- the input -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CategoryUtterance:
    """One utterance as categories see it.

    Attributes:
        role: collector, customer, third_party or unknown.
        text: the text as stored (the evidence is ``redact(text)``).
        norm: ``analysis.normalize(text)``: what phrases match.
        sentiment: negative, neutral or positive.
    """

    role: str
    start: float
    end: float
    text: str
    norm: str
    sentiment: str = "neutral"


@dataclass(frozen=True, slots=True)
class CategoryView:
    """What categories are evaluated on: one call's utterances, metrics and duration.

    Attributes:
        metrics: RoleMetrics by role (``all`` included); None: metric conditions are skipped.
        timed: False when utterance times are unknown (analyze-text): time conditions are skipped.
    """

    duration: float
    utterances: tuple[CategoryUtterance, ...]
    metrics: Mapping[str, RoleMetrics] | None = None
    timed: bool = True

    @property
    def provides(self) -> frozenset[str]:
        return frozenset(({TIME} if self.timed else set()) | ({METRICS} if self.metrics is not None else set()))


def call_view(utterances: Iterable[Any], duration: float | None = None,
              metrics: Iterable[RoleMetrics] | None = None, *, norms: Sequence[str] | None = None,
              timed: bool = True) -> CategoryView:
    """A CategoryView from utterances (anything with role, start, end, text, sentiment: the flow's
    Utterance, or rows read back from the warehouse) and the call's metrics.

    Args:
        duration: the call's length (default: the last utterance's end).
        metrics: measure_call's RoleMetrics (None: metric conditions are skipped).
        norms: the normalised texts when already computed (else normalised here).
        timed: False when the utterances carry no real times.
    """
    utts = list(utterances)
    norms = list(norms) if norms is not None else [normalize(u.text or "") for u in utts]
    views = tuple(CategoryUtterance(norm_role(u.role), float(u.start), float(u.end), u.text or "", n,
                                u.sentiment or "neutral") for u, n in zip(utts, norms))
    if duration is None:
        duration = max((v.end for v in views), default=0.0)
    by_role = {m.role: m for m in metrics} if metrics is not None else None
    return CategoryView(float(duration), views, by_role, timed)


# ---- conditions ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a condition holds, and where: utterance indexes, time span, a note, a role."""

    ok: bool
    turns: tuple[int, ...] = ()
    span: tuple[float, float] | None = None
    note: str = ""
    role: str | None = None


_NO = Outcome(False)


class Condition:
    """A compiled condition: ``needs`` (time / metrics), ``text`` (for notes), ``role`` (the
    one role it names, if any: whose conduct a hit concerns), ``evaluate``."""

    needs: frozenset[str] = frozenset()
    text: str = ""
    role: str | None = None

    def evaluate(self, view: CategoryView) -> Outcome:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


def _role_ok(role: str, roles: frozenset[str] | None) -> bool:
    return roles is None or role in roles or role == "unknown"


def _who(roles: frozenset[str] | None) -> str:
    return "/".join(sorted(roles)) if roles else "anyone"


def _single(roles: frozenset[str] | None) -> str | None:
    return min(roles) if roles and len(roles) == 1 else None


class Said(Condition):
    def __init__(self, rx: re.Pattern[str], source: str, roles: frozenset[str] | None,
                 first_s: float | None, last_s: float | None, negate: bool) -> None:
        self.rx, self.roles, self.first_s, self.last_s, self.negate = rx, roles, first_s, last_s, negate
        self.role = _single(roles)
        self.needs = frozenset({TIME}) if first_s is not None or last_s is not None else frozenset()
        where = (f" in the first {first_s:g} s" if first_s is not None else
                 f" in the last {last_s:g} s" if last_s is not None else "")
        self.text = f"{_who(roles)} {'did not say' if negate else 'said'} {source}{where}"

    def _window(self, view: CategoryView) -> tuple[float, float]:
        if self.first_s is not None:
            return 0.0, min(self.first_s, view.duration)
        if self.last_s is not None:
            return max(0.0, view.duration - self.last_s), view.duration
        return 0.0, view.duration

    def evaluate(self, view: CategoryView) -> Outcome:
        for i, u in enumerate(view.utterances):
            if not _role_ok(u.role, self.roles):
                continue
            if self.first_s is not None and u.start >= self.first_s:
                continue
            if self.last_s is not None and u.end <= view.duration - self.last_s:
                continue
            if self.rx.search(u.norm):
                return _NO if self.negate else Outcome(True, (i,), (u.start, u.end), self.text, u.role)
        if not self.negate:
            return _NO
        return Outcome(True, (), self._window(view), self.text, self.role)


class Near(Condition):
    def __init__(self, a: re.Pattern[str], b: re.Pattern[str], source: str, roles: frozenset[str] | None,
                 chars: int | None, seconds: float | None, ordered: bool) -> None:
        self.a, self.b, self.roles, self.chars, self.seconds, self.ordered = a, b, roles, chars, seconds, ordered
        self.role = _single(roles)
        self.needs = frozenset({TIME}) if seconds is not None else frozenset()
        within = f"{chars} characters" if chars is not None else f"{seconds:g} s"
        self.text = f"{source} within {within}"

    def _close_chars(self, norm: str) -> bool:
        bs = [m.span() for m in self.b.finditer(norm)]
        for ma in self.a.finditer(norm):
            for bs_, be in bs:
                gap = bs_ - ma.end() if self.ordered else max(bs_ - ma.end(), ma.start() - be)
                if (not self.ordered or bs_ >= ma.end()) and gap <= self.chars:
                    return True
        return False

    def evaluate(self, view: CategoryView) -> Outcome:
        mine = [(i, u) for i, u in enumerate(view.utterances) if _role_ok(u.role, self.roles)]
        if self.chars is not None:
            for i, u in mine:
                if self._close_chars(u.norm):
                    return Outcome(True, (i,), (u.start, u.end), self.text, u.role)
            return _NO
        with_a = [(i, u) for i, u in mine if self.a.search(u.norm)]
        with_b = [(i, u) for i, u in mine if self.b.search(u.norm)]
        for i, ua in with_a:
            for j, ub in with_b:
                if self.ordered and ub.start < ua.start:
                    continue
                if max(0.0, ub.start - ua.end, ua.start - ub.end) <= self.seconds:
                    turns = tuple(sorted({i, j}))
                    return Outcome(True, turns, (min(ua.start, ub.start), max(ua.end, ub.end)), self.text, ua.role)
        return _NO


class Group(Condition):
    """all / any / none of nested conditions."""

    def __init__(self, mode: str, children: list[Condition]) -> None:
        self.mode, self.children = mode, children
        self.role = next((c.role for c in children if c.role), None)
        self.needs = frozenset().union(*(c.needs for c in children))
        self.text = f"{mode} of: " + "; ".join(c.text for c in children)

    def evaluate(self, view: CategoryView) -> Outcome:
        outcomes = [c.evaluate(view) for c in self.children]
        held = [o for o in outcomes if o.ok]
        if self.mode == "any":
            return held[0] if held else _NO
        if self.mode == "none":
            return Outcome(True, (), (0.0, view.duration), self.text, self.role) if not held else _NO
        if len(held) < len(outcomes):
            return _NO
        spans = [o.span for o in held if o.span is not None]
        turns = tuple(dict.fromkeys(t for o in held for t in o.turns))
        span = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None
        role = next((o.role for o in held if o.role), None)
        return Outcome(True, turns, span, "; ".join(o.note for o in held if o.note), role)


class Compare:
    """above / below / at_least / at_most: all given must hold."""

    def __init__(self, limits: dict[str, float]) -> None:
        self.limits = limits
        self.text = " and ".join(f"{_COMPARE[k][0]} {v:g}" for k, v in limits.items())

    def __call__(self, value: float) -> bool:
        return all(_COMPARE[k][1](value, v) for k, v in self.limits.items())


class Measure(Condition):
    """A number measured on the call compared with limits (silence, interruptions, sentiment)."""

    def __init__(self, name: str, role: str | None, compare: Compare,
                 measure: Callable[[CategoryView, str | None], float | None], unit: str, needs: frozenset[str]) -> None:
        self.name, self.role, self.compare, self.measure = name, role, compare, measure
        self.unit, self.needs = unit, needs
        self.text = f"{role + ' ' if role else ''}{name} {compare.text}{unit}"

    def evaluate(self, view: CategoryView) -> Outcome:
        value = self.measure(view, self.role)
        if value is None or not self.compare(value):
            return _NO
        note = f"{self.role + ' ' if self.role else ''}{self.name} {value:.2f}{self.unit} ({self.compare.text})"
        return Outcome(True, (), (0.0, view.duration), note, self.role)


def _silence_share(view: CategoryView, role: str | None) -> float | None:
    everyone = (view.metrics or {}).get("all")
    if everyone is None or everyone.silence_s is None or view.duration <= 0:
        return None
    return everyone.silence_s / view.duration


def _interruptions_per_min(view: CategoryView, role: str | None) -> float | None:
    if view.duration <= 0 or view.metrics is None:
        return None
    m = view.metrics.get(role or "all")
    return (m.interruptions if m is not None else 0) / (view.duration / 60.0)


def _negative_share(view: CategoryView, role: str | None) -> float | None:
    mine = [u for u in view.utterances if role is None or u.role == role]
    return sum(u.sentiment == "negative" for u in mine) / len(mine) if mine else None


def sentiment_ends(sentiments: Sequence[str]) -> tuple[float, float, int]:
    """(mean sentiment of the first third, of the last third, k = utterances per third);
    negative = -1, neutral = 0, positive = +1."""
    k = max(1, len(sentiments) // 3)
    start = sum(_SENT_VALUE.get(s, 0.0) for s in sentiments[:k]) / k
    end = sum(_SENT_VALUE.get(s, 0.0) for s in sentiments[-k:]) / k
    return start, end, k


class Trajectory(Condition):
    def __init__(self, role: str, min_drop: float, min_utterances: int) -> None:
        self.role, self.min_drop, self.min_utterances = role, min_drop, min_utterances
        self.text = f"{role} sentiment drops by {min_drop:g} or more"

    def evaluate(self, view: CategoryView) -> Outcome:
        mine = [u for u in view.utterances if u.role == self.role]
        if len(mine) < self.min_utterances:
            return _NO
        start, end, k = sentiment_ends([u.sentiment for u in mine])
        if end - start > -self.min_drop:
            return _NO
        note = f"{self.role} sentiment {start:+.2f} -> {end:+.2f} (first/last {k} of {len(mine)} utterances)"
        return Outcome(True, (), (mine[0].start, mine[-1].end), note, self.role)


# ---- compiling conditions from YAML ----------------------------------------------------

def _fields(body: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"{path} must be a mapping ({', '.join(required + optional)}), got {body!r:.60}")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(required + optional)})")
    missing = [k for k in required if k not in body]
    if missing:
        raise ValueError(f"{path}: missing field {missing[0]}")
    return body


def _roles(body: dict[str, Any], path: str, allow_all: bool = False) -> frozenset[str] | None:
    if "role" not in body:
        return None
    value = body["role"]
    roles = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
    known = PARTY_ROLES + (("all",) if allow_all else ())
    if not roles or any(r not in known for r in roles):
        raise ValueError(f"{path}.role must be one of {', '.join(known)}, got {body['role']!r:.60}")
    return frozenset(roles)


def _one_role(body: dict[str, Any], path: str, allow_all: bool = False) -> str | None:
    roles = _roles(body, path, allow_all)
    if roles is not None and len(roles) != 1:
        raise ValueError(f"{path}.role must be one role")
    role = min(roles) if roles else None
    return None if role == "all" else role


def _phrases(body: dict[str, Any], key: str, path: str, expand: Callable[[str], str]) -> tuple[re.Pattern[str], str]:
    try:
        words = strings(body, key)
    except ValueError as exc:
        raise ValueError(f"{path}.{exc}") from None
    if not words or not all(words):
        raise ValueError(f"{path}.{key} must name at least one phrase")
    alts = []
    for i, w in enumerate(words):
        regex = expand(w)
        compile_regex(regex, f"{path}.{key}[{i}]")
        alts.append(regex)
    return re.compile("|".join(f"(?:{a})" for a in alts)), "/".join(words)


def _seconds(body: dict[str, Any], key: str, path: str) -> float | None:
    return number(body[key], f"{path}.{key}", 0.0) if key in body else None


def _compare(body: dict[str, Any], path: str, share: bool) -> Compare:
    limits = {k: number(body[k], f"{path}.{k}", *((0.0, 1.0) if share else (0.0,))) for k in _COMPARE if k in body}
    if not limits:
        raise ValueError(f"{path} needs a limit: {', '.join(_COMPARE)}")
    return Compare(limits)


def _said(negate: bool):
    def parse(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
        body = _fields(body, path, ("phrases",), ("role", "first_s", "last_s"))
        rx, source = _phrases(body, "phrases", path, expand)
        first, last = _seconds(body, "first_s", path), _seconds(body, "last_s", path)
        if first is not None and last is not None:
            raise ValueError(f"{path}: give first_s or last_s, not both")
        return Said(rx, source, _roles(body, path), first, last, negate)
    return parse


def _near(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
    body = _fields(body, path, ("a", "b"), ("within_chars", "within_s", "role", "ordered"))
    a, sa = _phrases(body, "a", path, expand)
    b, sb = _phrases(body, "b", path, expand)
    if ("within_chars" in body) == ("within_s" in body):
        raise ValueError(f"{path}: give within_chars or within_s (one of them)")
    chars = body.get("within_chars")
    if chars is not None and (isinstance(chars, bool) or not isinstance(chars, int) or chars < 0):
        raise ValueError(f"{path}.within_chars must be a whole number >= 0, got {chars!r:.60}")
    ordered = body.get("ordered", False)
    if not isinstance(ordered, bool):
        raise ValueError(f"{path}.ordered must be true or false, got {ordered!r:.60}")
    return Near(a, b, f"{sa} {'then' if ordered else 'and'} {sb}", _roles(body, path), chars,
                _seconds(body, "within_s", path), ordered)


def _group(mode: str):
    def parse(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
        if not isinstance(body, list) or not body:
            raise ValueError(f"{path} must be a non-empty list of conditions")
        return Group(mode, [_condition(c, f"{path}[{i}]", expand) for i, c in enumerate(body)])
    return parse


def _silence(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
    body = _fields(body, path, (), tuple(_COMPARE))
    return Measure("silence share", None, _compare(body, path, share=True), _silence_share, "",
                   frozenset({METRICS}))


def _interruptions(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
    body = _fields(body, path, (), ("role",) + tuple(_COMPARE))
    return Measure("interruptions", _one_role(body, path, allow_all=True), _compare(body, path, share=False),
                   _interruptions_per_min, "/min", frozenset({METRICS}))


def _negative_share_condition(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
    body = _fields(body, path, (), ("role",) + tuple(_COMPARE))
    return Measure("negative share", _one_role(body, path), _compare(body, path, share=True), _negative_share, "",
                   frozenset())


def _trajectory(body: Any, path: str, expand: Callable[[str], str]) -> Condition:
    body = _fields(body, path, ("role",), ("min_drop", "min_utterances"))
    n = body.get("min_utterances", 3)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"{path}.min_utterances must be a whole number >= 2, got {n!r:.60}")
    return Trajectory(_one_role(body, path), number(body.get("min_drop", 1.0), f"{path}.min_drop", 0.0, 2.0), n)


PARSERS: dict[str, Callable[[Any, str, Callable[[str], str]], Condition]] = {
    "said": _said(False), "not_said": _said(True), "near": _near,
    "all": _group("all"), "any": _group("any"), "none": _group("none"),
    "silence": _silence, "interruptions": _interruptions,
    "negative_share": _negative_share_condition, "negative_trajectory": _trajectory,
}


def _condition(item: Any, path: str, expand: Callable[[str], str]) -> Condition:
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError(f"{path} must be one condition ({{said: ...}}, {{silence: ...}}, ...), got {item!r:.60}")
    (name, body), = item.items()
    if name not in PARSERS:
        raise ValueError(f"{path}: unknown condition {name!r} (known: {', '.join(PARSERS)})")
    return PARSERS[name](body, f"{path}.{name}", expand)


def compile_conditions(raw: Any, expand: Callable[[str], str]) -> Condition:
    """A rule's ``conditions`` (a list: all must hold) compiled; ``expand`` fills in slots.
    Raises ValueError with the condition's path and the reason."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("conditions must be a non-empty list of conditions")
    return Group("all", [_condition(c, f"conditions[{i}]", expand) for i, c in enumerate(raw)])


# ---- evaluation ------------------------------------------------------------------------

def _utterance_hits(view: CategoryView, name: str, cat: RulePack) -> list[Finding]:
    out = []
    for i, u in enumerate(view.utterances):
        hits = cat.hits(u.norm, u.role)
        if hits:
            h = max(hits, key=lambda x: x.score)
            out.append(Finding(kind=name, role=u.role, start=u.start, end=u.end, evidence=redact(u.text),
                               rule_id=h.rule_id, score=round(h.score, 3), severity=h.severity, utterance_index=i))
    return out


def _call_finding(view: CategoryView, name: str, rule: Rule, o: Outcome) -> Finding:
    role = rule.role or o.role or rule.conditions.role or "unknown"
    start, end = o.span if o.span is not None else (0.0, view.duration)
    if o.turns:
        evidence = " … ".join(redact(view.utterances[t].text) for t in o.turns[:3])
    else:
        evidence = o.note or rule.conditions.text
    return Finding(kind=name, role=role, start=round(start, 3), end=round(end, 3), evidence=evidence,
                   rule_id=rule.id, score=round(rule.score, 3), severity=rule.severity_for(role),
                   utterance_index=o.turns[0] if o.turns else None)


def evaluate_categories(view: CategoryView, catalog: Catalog) -> list[Finding]:
    """Every category hit in one call, as findings (kind = the category name; evidence
    redacted). Rules whose conditions need what the view lacks (times, metrics) are skipped."""
    findings: list[Finding] = []
    for name, cat in catalog.categories.items():
        findings += _utterance_hits(view, name, cat)
        for rule in cat.rules:
            if rule.conditions is None or rule.conditions.needs - view.provides:
                continue
            outcome = rule.conditions.evaluate(view)
            if outcome.ok:
                findings.append(_call_finding(view, name, rule, outcome))
    logger.debug("categories: %d utterances, %d hits", len(view.utterances), len(findings))
    return findings


def unjudged_rules(catalog: Catalog, provides: frozenset[str] = frozenset()) -> list[str]:
    """Ids of the category rules that a view providing only ``provides`` cannot judge."""
    return [rule.id for cat in catalog.categories.values() for rule in cat.rules
            if rule.conditions is not None and rule.conditions.needs - provides]


def categories_of_rows(rows: Sequence[dict[str, Any]], catalog: Catalog) -> list[list[str]]:
    """The categories each JSONL row (``role``, ``text``, optional ``call_id``) belongs to, for
    ``callqa analyze-text``: rows sharing a call_id (or all rows without one) are one call, in
    file order, without times or metrics. A hit on an utterance is listed on its row, a
    call-level hit (not said, sentiment) on the call's first row."""
    from analysis.annotate import analyze_text

    out: list[list[str]] = [[] for _ in rows]
    calls: dict[Any, list[int]] = {}
    for n, row in enumerate(rows):
        calls.setdefault(row.get("call_id"), []).append(n)
    for members in calls.values():
        analyses = [analyze_text(rows[n]["role"], rows[n]["text"], catalog) for n in members]
        utts = [CategoryUtterance(norm_role(rows[n]["role"]), 0.0, 0.0, rows[n]["text"], a.norm, a.sentiment)
                for n, a in zip(members, analyses)]
        for f in evaluate_categories(CategoryView(0.0, tuple(utts), None, timed=False), catalog):
            names = out[members[f.utterance_index if f.utterance_index is not None else 0]]
            if f.kind not in names:
                names.append(f.kind)
    return out
