"""QA scorecards (质检评分表): YAML forms a QA lead edits, and one call scored against one.

A scorecard is ``<name>.yaml`` in ``[scoring] scorecards_dir`` (default ``scorecards/``)::

    name: cuishou-default              # the file name without .yaml
    version: 3                         # bump on every change: `callqa score` re-scores stored calls
    title: 催收通话质检评分表
    sections:
      - id: opening
        title: 开场
        items:
          - id: identity_disclosure    # unique in the scorecard (overrides name it)
            title: 表明身份和机构
            weight: 15
            step: identity_disclosure  # a required step said by the collector (LABELS.md)
            within_s: 30               #   in the first 30 s of the call (optional)
            before: purpose_disclosure #   before this step was said (optional)
            requires_role: customer    # n/a unless this role spoke (e.g. the debtor was reached)
          - id: no_threats
            title: 无威胁恐吓
            fatal: true                # 致命项: failing it sets the call's score to 0
            finding: threat            # a finding kind (detectors, outcomes, custom categories)
            role: collector            #   said by this role (optional: any role)
            expect: absent             #   absent (the default) or present
            except_rules: [...]        #   ignore findings of these rule ids (or `rules:` only these)
            min_severity: medium       #   ignore findings below this severity
          - id: silence
            weight: 5
            metric: silence_share      # silence_share, talk_share, interruptions_per_min,
            role: all                  #   speech_rate_cpm, overlap_share, negative_share
            max: 0.35                  #   and/or min
          - id: promise
            weight: 10
            outcome: promise_to_pay    # an outcome finding kind: present = pass

Each item's result is ``pass``, ``fail`` or ``na`` (does not apply); a passed item earns its
weight. Score = 100 × points earned ÷ weights of the items that apply, rounded to 0.1; 0 when
a fatal item failed; None when no item applies. Items read only what the warehouse keeps
(findings, utterance labels and sentiment, metrics), so stored calls are re-scored without
transcribing them again. Evidence is redacted text or a measured value, never raw text.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analysis.pii import redact
from analysis.steps import STEPS
from core.domain import ROLES, CallScore, CallView, Finding, ItemScore, ProcessedCall, Utterance, norm_role
from core.settings import ScoringSettings

PROJECT = Path(__file__).resolve().parents[1]
SIGNALS = ("step", "finding", "metric", "outcome")
METRICS = ("silence_share", "talk_share", "interruptions_per_min", "speech_rate_cpm", "overlap_share",
           "negative_share")
CALL_ONLY_METRICS = ("silence_share",)       # measured for the whole call (role `all`) only
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")
RESULTS = ("pass", "fail", "na")
STEP_ROLES = ("collector", "unknown")       # who says the required steps (as analysis.calls counts them)
_COMMON_KEYS = {"id", "title", "description", "weight", "fatal", "requires_role"}
_OPTIONS = {
    "step": {"within_s", "before"},
    "finding": {"role", "expect", "rules", "except_rules", "min_severity"},
    "outcome": {"role"},
    "metric": {"role", "min", "max"},
}
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_EVIDENCE = 200


class ScorecardError(ValueError):
    """A scorecard that cannot be used: the message names the file, the item and the reason."""


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the form: a signal (``kind`` + its ``target``: a step label, finding kind,
    metric name or outcome kind) and its options."""

    id: str
    section: str
    title: str
    weight: float
    fatal: bool
    kind: str                    # step | finding | metric | outcome
    target: str
    requires_role: str | None = None
    role: str | None = None
    expect: str = "absent"       # finding: absent | present
    within_s: float | None = None
    before: str | None = None
    rules: tuple[str, ...] = ()
    except_rules: tuple[str, ...] = ()
    min_severity: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Scorecard:
    name: str
    version: str
    title: str
    sections: tuple[Section, ...]
    path: Path | None = None

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]


# -- loading -------------------------------------------------------------------------------
def _number(where: str, key: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        raise ScorecardError(f"{where}: {key} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScorecardError(f"{where}: {key} must be >= {minimum:g}, got {value!r}")
    return float(value)


def _text(where: str, key: str, value: Any, *, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScorecardError(f"{where}: {key} must be a non-empty string, got {value!r}")
    if pattern is not None and not pattern.match(value):
        raise ScorecardError(f"{where}: {key} {value!r} is not {what}")
    return value.strip()


def _role(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ScorecardError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _strings(where: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ScorecardError(f"{where}: {key} must be a list of rule ids, got {value!r}")
    return tuple(v.strip() for v in value)


def _item(at: str, index: int, section: str, raw: Any) -> Item:
    where = f"{at}: items[{index}]"
    if not isinstance(raw, dict):
        raise ScorecardError(f"{where}: an item must be a mapping (id, title, weight, and one of "
                             f"{', '.join(SIGNALS)}), got {raw!r}")
    if "id" not in raw:
        raise ScorecardError(f"{where}: item without an id")
    item_id = _text(where, "id", raw["id"], pattern=_ID, what="an id (letters, digits, - _ .)")
    where = f"{at}: item {item_id}"
    signals = [k for k in SIGNALS if k in raw]
    if len(signals) != 1:
        raise ScorecardError(f"{where}: give exactly one signal of {', '.join(SIGNALS)}"
                             f" (found {', '.join(signals) or 'none'})")
    kind = signals[0]
    unknown = sorted(set(raw) - _COMMON_KEYS - {kind} - _OPTIONS[kind])
    if unknown:
        raise ScorecardError(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind} item"
                             f" (allowed: {', '.join(sorted(_COMMON_KEYS | {kind} | _OPTIONS[kind]))})")
    fatal = raw.get("fatal", False)
    if not isinstance(fatal, bool):
        raise ScorecardError(f"{where}: fatal must be true or false, got {fatal!r}")
    if "weight" in raw:
        weight = _number(where, "weight", raw["weight"], minimum=0)
    elif fatal:
        weight = 0.0
    else:
        raise ScorecardError(f"{where}: weight is missing (a non-fatal item needs a weight > 0)")
    if weight == 0 and not fatal:
        raise ScorecardError(f"{where}: weight must be > 0 for a non-fatal item")
    opts: dict[str, Any] = {}
    if "requires_role" in raw:
        opts["requires_role"] = _role(where, "requires_role", raw["requires_role"], ROLES)
    target = raw[kind]
    if kind == "step":
        target = _role(where, "step", target, STEPS)
        if "within_s" in raw:
            opts["within_s"] = _number(where, "within_s", raw["within_s"], minimum=0)
        if "before" in raw:
            opts["before"] = _role(where, "before", raw["before"], tuple(s for s in STEPS if s != target))
    elif kind in ("finding", "outcome"):
        target = _text(where, kind, target, pattern=_KIND, what="a finding kind (lower-case letters, digits, _)")
        if "role" in raw:
            opts["role"] = _role(where, "role", raw["role"], ROLES)
        if "expect" in raw:
            opts["expect"] = _role(where, "expect", raw["expect"], ("absent", "present"))
        for key in ("rules", "except_rules"):
            if key in raw:
                opts[key] = _strings(where, key, raw[key])
        if "min_severity" in raw:
            opts["min_severity"] = _role(where, "min_severity", raw["min_severity"], SEVERITY_ORDER)
    else:
        target = _role(where, "metric", target, METRICS)
        roles = ("all",) if target in CALL_ONLY_METRICS else ("all",) + ROLES
        opts["role"] = _role(where, "role", raw.get("role", "all"), roles)
        for key in ("min", "max"):
            if key in raw:
                opts[key] = _number(where, key, raw[key])
        if "min" not in opts and "max" not in opts:
            raise ScorecardError(f"{where}: a metric item needs min and/or max")
        if "min" in opts and "max" in opts and opts["min"] > opts["max"]:
            raise ScorecardError(f"{where}: min {opts['min']:g} is above max {opts['max']:g}")
    title = _text(where, "title", raw["title"]) if "title" in raw else item_id
    return Item(id=item_id, section=section, title=title, weight=weight, fatal=fatal, kind=kind, target=target,
                **opts)


def parse_scorecard(data: Any, where: str, name: str | None = None) -> Scorecard:
    """A scorecard from parsed YAML; ``where`` (the file) starts every error message, and
    ``name`` (the file's stem) must be the scorecard's name when given."""
    if not isinstance(data, dict):
        raise ScorecardError(f"{where}: a scorecard must be a mapping with name, version and sections")
    unknown = sorted(set(data) - {"name", "version", "title", "description", "sections"})
    if unknown:
        raise ScorecardError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}"
                             " (allowed: name, version, title, description, sections)")
    for key in ("name", "version", "sections"):
        if key not in data:
            raise ScorecardError(f"{where}: {key} is missing")
    card = _text(where, "name", data["name"], pattern=_ID, what="a scorecard name (letters, digits, - _ .)")
    if name is not None and card != name:
        raise ScorecardError(f"{where}: name {card!r} must be the file name without .yaml ({name!r})")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, (int, float, str)) or not str(version).strip():
        raise ScorecardError(f"{where}: version must be a number or a string, got {version!r}")
    sections_raw = data["sections"]
    if not isinstance(sections_raw, list) or not sections_raw:
        raise ScorecardError(f"{where}: sections must be a non-empty list")
    sections, seen_items, seen_sections = [], set(), set()
    for s, raw in enumerate(sections_raw):
        at = f"{where}: sections[{s}]"
        if not isinstance(raw, dict) or "id" not in raw:
            raise ScorecardError(f"{at}: a section must be a mapping with id, title and items")
        sid = _text(at, "id", raw["id"], pattern=_ID, what="an id (letters, digits, - _ .)")
        at = f"{where}: section {sid}"
        extra = sorted(set(raw) - {"id", "title", "description", "items"})
        if extra:
            raise ScorecardError(f"{at}: unknown key(s) {', '.join(map(str, extra))} (allowed: id, title, items)")
        if sid in seen_sections:
            raise ScorecardError(f"{at}: section id used twice")
        seen_sections.add(sid)
        items_raw = raw.get("items")
        if not isinstance(items_raw, list) or not items_raw:
            raise ScorecardError(f"{at}: items must be a non-empty list")
        items = []
        for k, item_raw in enumerate(items_raw):
            item = _item(at, k, sid, item_raw)
            if item.id in seen_items:
                raise ScorecardError(f"{where}: item {item.id}: id used twice (item ids are unique in a scorecard)")
            seen_items.add(item.id)
            items.append(item)
        title = _text(at, "title", raw["title"]) if "title" in raw else sid
        sections.append(Section(sid, title, tuple(items)))
    title = _text(where, "title", data["title"]) if "title" in data else card
    return Scorecard(card, str(version).strip(), title, tuple(sections))


def load_scorecard(path: str | Path) -> Scorecard:
    """Read and validate one scorecard file.

    Raises:
        ScorecardError: unreadable, not YAML, or not a valid scorecard; the message names the
            file, the section or item, and what is wrong.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScorecardError(f"{path}: scorecard file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScorecardError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScorecardError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    card = parse_scorecard(data, str(path), name=path.name.removesuffix(".yaml"))
    return Scorecard(card.name, card.version, card.title, card.sections, path)


def scorecards_dir(settings: ScoringSettings) -> Path:
    """The folder of scorecard files (a relative ``scorecards_dir`` is under the project)."""
    folder = Path(settings.scorecards_dir)
    return folder if folder.is_absolute() else PROJECT / folder


_CACHE: dict[tuple, Scorecard] = {}


def load_scorecards(settings: ScoringSettings, names: list[str] | tuple[str, ...] | None = None) -> list[Scorecard]:
    """The scorecards named (default: ``settings.scorecards``) from the scorecards folder.
    Each file is parsed again only when it changed (size and modification time).

    Raises:
        ScorecardError: a file is missing or invalid.
    """
    folder = scorecards_dir(settings)
    out = []
    for name in settings.scorecards if names is None else names:
        path = folder / f"{name}.yaml"
        try:
            st = path.stat()
        except OSError:
            raise ScorecardError(f"scorecard {name}: {path} does not exist"
                                 f" ([scoring] scorecards_dir = {settings.scorecards_dir!r})") from None
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in _CACHE:
            _CACHE[key] = load_scorecard(path)
        out.append(_CACHE[key])
    return out


# -- scoring -------------------------------------------------------------------------------
def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def _evidence(text: str | None) -> str | None:
    """Redacted (again: what is read back is already redacted at rest), one line, short."""
    if not text:
        return None
    line = " ".join(redact(text).split())
    return line if len(line) <= _MAX_EVIDENCE else line[: _MAX_EVIDENCE - 1] + "…"


def _metric_value(view: CallView, name: str, role: str) -> float | None:
    """A metric of ``role`` (``all``: the whole call), or None when not measured."""
    duration = view.duration or 0.0
    rows = {m.role: m for m in view.metrics}
    if name == "negative_share":
        spoken = [u for u in view.utterances if role == "all" or norm_role(u.role) == role]
        total = sum(u.duration for u in spoken)
        return None if total <= 0 else sum(u.duration for u in spoken if u.sentiment == "negative") / total
    row = rows.get(role)
    if row is None and role != "all":
        return 0.0 if name in ("talk_share", "interruptions_per_min", "overlap_share") and "all" in rows else None
    if row is None:
        return None
    if name == "silence_share":
        return None if row.silence_s is None or duration <= 0 else row.silence_s / duration
    if name == "talk_share":
        return row.talk_share
    if name == "speech_rate_cpm":
        return row.speech_rate_cpm if row.talk_s > 0 else None
    if name == "overlap_share":
        return None if duration <= 0 else row.overlap_s / duration
    if name == "interruptions_per_min":
        return None if duration <= 0 else row.interruptions / (duration / 60.0)
    raise ValueError(f"unknown metric {name}")


def _matching(view: CallView, item: Item) -> list[tuple[str, Finding]]:
    floor = SEVERITY_ORDER.index(item.min_severity) if item.min_severity else 0
    out = []
    for fid, f in zip(view.finding_ids, view.findings):
        if f.kind != item.target or (item.role and norm_role(f.role) != item.role):
            continue
        if (item.rules and f.rule_id not in item.rules) or f.rule_id in item.except_rules:
            continue
        if floor and (f.severity not in SEVERITY_ORDER or SEVERITY_ORDER.index(f.severity) < floor):
            continue
        out.append((fid, f))
    return sorted(out, key=lambda x: (x[1].start, x[0]))


def _first_step(view: CallView, label: str) -> int | None:
    """Index of the first utterance in time carrying ``label`` (said by the collector)."""
    said = [i for i, u in enumerate(view.utterances) if label in u.labels and norm_role(u.role) in STEP_ROLES]
    return min(said, key=lambda i: (view.utterances[i].start, i)) if said else None


def _step(view: CallView, item: Item) -> tuple[str, str | None, str | None]:
    first = _first_step(view, item.target)
    if first is None:
        return "fail", f"{item.target} not said by the collector", None
    u: Utterance = view.utterances[first]
    fid = next((fid for fid, f in zip(view.finding_ids, view.findings)
                if f.kind == item.target and f.utterance_index == first), None)
    if item.within_s is not None and u.start > item.within_s:
        return "fail", f"first said at {_mmss(u.start)}, after the first {item.within_s:g} s", fid
    if item.before:
        other = _first_step(view, item.before)
        if other is not None and (view.utterances[other].start, other) < (u.start, first):
            return ("fail", f"said at {_mmss(u.start)}, after {item.before} at "
                    f"{_mmss(view.utterances[other].start)}", fid)
    return "pass", f"{_mmss(u.start)} {_evidence(u.text) or ''}".strip(), fid


def _finding(view: CallView, item: Item, expect: str) -> tuple[str, str | None, str | None]:
    found = _matching(view, item)
    who = f" by {item.role}" if item.role else ""
    if not found:
        return ("pass" if expect == "absent" else "fail"), f"no {item.target}{who}", None
    fid, f = found[0]
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    text = f"{_mmss(f.start)} {item.target}{who}: {_evidence(f.evidence) or ''}{more}"
    return ("fail" if expect == "absent" else "pass"), text, fid


def _metric(view: CallView, item: Item) -> tuple[str, str | None, str | None]:
    value = _metric_value(view, item.target, item.role or "all")
    if value is None:
        return "na", f"{item.target} ({item.role}) not measured", None
    bounds = ", ".join(f"{k} {v:g}" for k, v in (("min", item.min), ("max", item.max)) if v is not None)
    ok = (item.min is None or value >= item.min) and (item.max is None or value <= item.max)
    return ("pass" if ok else "fail"), f"{item.target} ({item.role}) {value:.3g} ({bounds})", None


def evaluate(item: Item, view: CallView) -> tuple[str, str | None, str | None]:
    """(result, evidence, finding id) of one item on one call."""
    if item.requires_role and not any(norm_role(u.role) == item.requires_role for u in view.utterances):
        return "na", f"no {item.requires_role} speech in this call", None
    if item.kind == "step":
        return _step(view, item)
    if item.kind == "finding":
        return _finding(view, item, item.expect)
    if item.kind == "outcome":
        return _finding(view, item, "present")
    return _metric(view, item)


def round_score(value: float) -> float:
    """To 0.1, halves away from zero, exactly as DuckDB's round(x, 1) (std::round(x * 10) / 10),
    which the effective_call_scores view uses: both give the same score."""
    scaled = value * 10
    whole = math.floor(abs(scaled))
    whole += abs(scaled) - whole >= 0.5
    return math.copysign(whole, scaled) / 10


def total(items: list[ItemScore]) -> tuple[float | None, bool]:
    """(score, fatal) from item results: 0 when a fatal item failed; 100 × points ÷ weights of
    the items that apply; None when none applies."""
    if any(i.fatal and i.result == "fail" for i in items):
        return 0.0, True
    possible = sum(i.weight for i in items if i.result != "na")
    if possible <= 0:
        return None, False
    return round_score(100.0 * sum(i.points for i in items) / possible), False


def score_call(scorecard: Scorecard, view: CallView | ProcessedCall) -> CallScore:
    """Score one call (a CallView, or a ProcessedCall at landing) against a scorecard."""
    if isinstance(view, ProcessedCall):
        view = CallView.of(view)
    items = []
    for item in scorecard.items:
        result, evidence, fid = evaluate(item, view)
        items.append(ItemScore(item.id, item.section, item.title, result, item.weight if result == "pass" else 0.0,
                               item.weight, item.fatal, evidence, fid))
    score, fatal = total(items)
    return CallScore(view.call_id, scorecard.name, scorecard.version, score, fatal, items)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return ",".join(value) if isinstance(value, tuple) else str(value)


def describe(scorecard: Scorecard) -> list[dict[str, Any]]:
    """One row per item (for `callqa score --check`): section, id, signal, weight, fatal."""
    rows = []
    for item in scorecard.items:
        extra = [f"{k}={_plain(getattr(item, k))}" for k in ("role", "within_s", "before", "min", "max", "rules",
                                                              "except_rules", "min_severity", "requires_role")
                 if getattr(item, k) not in (None, ())]
        if item.kind == "finding":
            extra.insert(0, f"expect={item.expect}")
        rows.append({"section": item.section, "item": item.id, "signal": f"{item.kind}: {item.target}",
                     "options": ", ".join(extra), "weight": item.weight, "fatal": item.fatal})
    return rows


__all__ = ["Item", "Scorecard", "ScorecardError", "Section", "describe", "evaluate", "load_scorecard",
           "load_scorecards", "parse_scorecard", "round_score", "score_call", "scorecards_dir", "total"]
