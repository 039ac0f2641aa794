"""Rule packs: YAML files in this folder, loaded and compiled once.

A pack file looks like::

    version: "2026.11.1"          # bump on every change; reported with findings' rule ids
    pack: threat
    slots:                        # named vocabularies usable as {NAME} in patterns/intents
      YOU: [你, 您]
    negation: "不会|没有|不"       # optional: a negator shortly before a match cancels it
    negation_gap: 8               # at most this many chars between negator and match
    rules:
      - id: threat.visit.home
        label: threat             # label this rule sets
        also: [privacy]           # optional extra labels
        roles: [collector]        # optional, default every role
        severity: {collector: high, default: medium}   # or a plain string
        score: 0.9
        description: visiting the debtor's home or workplace
        intents:                  # ordered slot sequences, `window` chars apart at most
          - [VISIT, PLACE]
        window: 8
        patterns: ["上门催收"]      # plain regexes (slots allowed)
        exceptions: ["垃圾短信"]    # a match overlapping one of these spans is ignored
        unless: ["请您文明用语"]     # any of these in the utterance disables the rule
        negatable: true

Rules only read the normalised text (see analysis.normalize). Changing a rule needs no
code change; `tests/test_analysis_rules.py` checks every pack still compiles.

More packs: a :class:`Catalog` is the built-in packs plus the packs of extra folders
(``[analysis] rules_dirs``). A pack there named like a built-in detector pack (one of
``OVERRIDABLE``) replaces it; any other name adds a *category*: its findings have kind = the
pack name. A category rule has either patterns/intents (per utterance, as above; ``label``
may be left out) or ``conditions`` (call-level, see analysis.categories). Such packs are
checked strictly: a bad one raises :class:`PackError` naming the file, the rule id and the
reason, for every problem found.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.domain import PARTY_ROLES, ROLES

logger = logging.getLogger("analysis")

RULES_DIR = Path(__file__).resolve().parent
_SLOT = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_SLOT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CLAUSE_END = re.compile(r"[,.!?;:]")
_PACK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

SEVERITIES = ("info", "low", "medium", "high", "critical")
# Built-in packs that a pack of the same name in rules_dirs replaces (analyze_text takes them
# from the catalog); the other built-in files are settings or feed role assignment.
OVERRIDABLE = ("threat", "abuse", "privacy", "self_harm", "steps")
# Finding kinds made in code (analysis.calls), not by a pack's labels: no category may use them.
CALL_KINDS = ("pii", "missing_steps", "sentiment_trajectory", "negative_trajectory")
PACK_KEYS = frozenset({"version", "pack", "kind", "description", "slots", "negation", "negation_gap", "rules"})
RULE_KEYS = frozenset({"id", "label", "also", "roles", "severity", "score", "description", "intents", "window",
                       "patterns", "exceptions", "unless", "negatable", "weak"})
CATEGORY_RULE_KEYS = RULE_KEYS | {"conditions", "role"}


def _split_top(pattern: str) -> list[str]:
    """Split a regex at its top-level `|` (outside groups and classes)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return [p for p in parts if p]


def load_yaml(name: str) -> dict[str, Any]:
    """Parse one YAML file from the rules folder."""
    with open(RULES_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One reason a pack cannot be used: the file, the rule (when one is to blame), why."""

    path: str
    reason: str
    rule_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: rule {self.rule_id}: {self.reason}" if self.rule_id else f"{self.path}: {self.reason}"


class PackError(ValueError):
    """Packs that cannot be used; ``problems`` lists every one found (the message names the first)."""

    def __init__(self, problems: list[PackProblem]) -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more; `callqa rules check` lists them)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def strings(spec: dict[str, Any], key: str) -> tuple[str, ...]:
    """``spec[key]`` as strings: a string or a list of strings (missing: empty)."""
    value = spec.get(key, ())
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{key} must be a string or a list of strings, got {_show(value)}")


def number(value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float:
    """``value`` as a float within [lo, hi], or ValueError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {_show(value)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{key} must be between {lo if lo is not None else '-inf'} and "
                         f"{hi if hi is not None else 'inf'}, got {value}")
    return float(value)


def compile_regex(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex in {where}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule match in a normalised utterance."""

    rule_id: str
    label: str
    score: float
    severity: str
    start: int
    end: int
    also: tuple[str, ...] = ()


def _alternation(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "|".join(str(v) for v in value)


class Rule:
    """A compiled rule (see module docstring for the YAML fields). A category's call-level
    rule has ``conditions`` (analysis.categories) and no regex."""

    __slots__ = ("id", "label", "also", "roles", "severity", "score", "description",
                 "regex", "parts", "exceptions", "unless", "negatable", "pack", "conditions", "role")

    def __init__(self, spec: dict[str, Any], slots: dict[str, str], pack: "RulePack") -> None:
        self.id: str = spec["id"]
        self.pack = pack
        known = CATEGORY_RULE_KEYS if pack.category else RULE_KEYS
        unknown = sorted(set(spec) - known)
        if unknown:
            hint = " (conditions and role are for category packs)" if set(unknown) & {"conditions", "role"} else ""
            raise ValueError(f"unknown field {unknown[0]!r}{hint} (known: {', '.join(sorted(known))})")
        label = spec.get("label", pack.name if pack.category else None)
        if label is None:
            raise ValueError("missing field label")
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a string, got {_show(label)}")
        if pack.category and label != pack.name:
            raise ValueError(f"label {label!r} is not the category {pack.name!r}: a category's findings "
                             "have kind = its pack name (leave label out)")
        self.label: str = label
        self.also: tuple[str, ...] = strings(spec, "also")
        roles = strings(spec, "roles")
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValueError(f"roles: unknown role {bad[0]!r} (known: {', '.join(ROLES)})")
        self.roles: frozenset[str] | None = frozenset(roles) if roles else None
        sev = spec.get("severity", "medium")
        self.severity: dict[str, str] = sev if isinstance(sev, dict) else {"default": sev}
        for who, level in self.severity.items():
            if who != "default" and who not in ROLES:
                raise ValueError(f"severity: unknown role {who!r} (known: {', '.join(ROLES)}, default)")
            if level not in SEVERITIES:
                raise ValueError(f"severity must be one of {', '.join(SEVERITIES)} (or one per role), "
                                 f"got {_show(level)}")
        self.score: float = number(spec.get("score", 0.9), "score", *((0.0, 1.0) if pack.strict else ()))
        self.description: str = spec.get("description", "")
        if not isinstance(self.description, str):
            raise ValueError(f"description must be a string, got {_show(self.description)}")
        self.negatable = spec.get("negatable", False)
        if not isinstance(self.negatable, bool):
            raise ValueError(f"negatable must be true or false, got {_show(self.negatable)}")
        window = spec.get("window", 8)
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise ValueError(f"window must be a whole number >= 0, got {_show(window)}")
        # a decimal point (1.5万) does not end the clause
        gap = f"(?:[^.!?;]|(?<=[0-9])\\.(?=[0-9])){{0,{window}}}?"
        alts = [(f"patterns[{i}]", self._expand(p, slots)) for i, p in enumerate(strings(spec, "patterns"))]
        intents = spec.get("intents", [])
        if not isinstance(intents, list) or not all(isinstance(i, list) and i and all(isinstance(x, str) for x in i)
                                                    for i in intents):
            raise ValueError(f"intents must be a list of slot sequences ([[SLOT, SLOT], ...]), got {_show(intents)}")
        for n, intent in enumerate(intents):
            alts.append((f"intents[{n}]", gap.join(
                f"(?:{self._expand('{' + s + '}' if _SLOT_NAME.match(s) else s, slots)})" for s in intent)))
        exc = [self._expand(p, slots) for p in strings(spec, "exceptions")]
        unl = [self._expand(p, slots) for p in strings(spec, "unless")]
        for i, p in enumerate(exc):
            compile_regex(p, f"exceptions[{i}]")
        for i, p in enumerate(unl):
            compile_regex(p, f"unless[{i}]")
        self.role: str | None = None
        self.conditions = None
        if "conditions" in spec:
            if alts or exc or unl:
                raise ValueError("use either patterns/intents or conditions, not both "
                                 "(a phrase in a call-level rule is a `said` condition)")
            role = spec.get("role")
            if role is not None and role not in PARTY_ROLES:
                raise ValueError(f"role must be one of {', '.join(PARTY_ROLES)}, got {_show(role)}")
            self.role = role
            from analysis.categories import compile_conditions  # here: categories imports this module

            self.conditions = compile_conditions(spec["conditions"], lambda p: self._expand(p, slots))
            self.regex, self.parts, self.exceptions, self.unless = None, [], None, None
            return
        if "role" in spec:
            raise ValueError("role is for rules with conditions (a pattern rule's finding has the speaker's role)")
        if not alts:
            raise ValueError("no patterns or intents" + (" or conditions" if pack.category else ""))
        for where, a in alts:
            compile_regex(a, where)
        self.regex = re.compile("|".join(f"(?:{a})" for _, a in alts))
        # Each top-level alternative compiled alone: the regex engine can then skip
        # ahead to its literal prefix, several times faster than one big alternation.
        self.parts = [re.compile(x) for _, p in alts for x in _split_top(p)]
        self.exceptions = re.compile("|".join(exc)) if exc else None
        self.unless = re.compile("|".join(unl)) if unl else None

    def _expand(self, pattern: str, slots: dict[str, str]) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in slots:
                known = f" (defined: {', '.join(slots)})" if slots else " (the pack defines no slots)"
                raise ValueError(f"unknown slot {{{name}}}{known}")
            return f"(?:{slots[name]})"
        return _SLOT.sub(sub, pattern)

    def severity_for(self, role: str) -> str:
        return self.severity.get(role, self.severity.get("default", "medium"))

    def find(self, text: str, role: str) -> Hit | None:
        """First match of this rule in `text` said by `role` that survives exceptions."""
        return self.scan(text, role)[0]

    def scan(self, text: str, role: str) -> tuple[Hit | None, bool]:
        """(first surviving hit, whether a match was cancelled by a negator before it)."""
        negated = False
        if self.roles is not None and role not in self.roles and role != "unknown":
            return None, negated
        exc_spans: list[tuple[int, int]] | None = None
        for rx in self.parts:
            m = rx.search(text)
            if m is None:
                continue
            if exc_spans is None:
                if self.unless is not None and self.unless.search(text):
                    return None, negated
                exc_spans = [e.span() for e in self.exceptions.finditer(text)] if self.exceptions else []
            while m is not None:
                s, e = m.span()
                vetoed = any(a < e and s < b for a, b in exc_spans)
                if not vetoed and self.negatable and self.pack.negated(text, s):
                    vetoed = negated = True
                if not vetoed:
                    return Hit(self.id, self.label, self.score, self.severity_for(role), s, e, self.also), negated
                m = rx.search(text, s + 1)
        return None, negated


class RulePack:
    """All rules of one YAML file, in file order.

    ``RulePack("threat.yaml")`` reads a built-in; a pack from another folder passes its parsed
    ``data`` and ``source`` file, ``category=True`` for a category (see :class:`Catalog`).
    Raises PackError listing every bad rule (file, rule id, reason).
    """

    def __init__(self, name: str, *, data: dict[str, Any] | None = None, source: Path | None = None,
                 category: bool = False, strict: bool = False,
                 allowed_keys: frozenset[str] | None = None) -> None:
        self.source = source or RULES_DIR / name
        data = load_yaml(name) if data is None else data
        where = str(self.source)
        if not isinstance(data, dict):
            raise PackError([PackProblem(where, "not a rule pack: expected a YAML mapping with pack, version, rules")])
        self.category = category
        self.strict = strict or category
        self.name: str = data.get("pack", name.rsplit(".", 1)[0])
        self.version: str = str(data.get("version", "0"))
        self.data = data
        try:
            self._check_top(data, allowed_keys)
            slots_raw: dict[str, Any] = data.get("slots", {}) or {}
            if not isinstance(slots_raw, dict):
                raise ValueError(f"slots must be a mapping of NAME: words, got {_show(slots_raw)}")
            self.slots: dict[str, str] = {}
            for key, value in slots_raw.items():  # slots may use earlier slots
                self.slots[key] = self._slot(key, value)
            neg = data.get("negation")
            gap = data.get("negation_gap", 6)
            if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
                raise ValueError(f"negation_gap must be a whole number >= 0, got {_show(gap)}")
            if neg is not None:
                compile_regex(_alternation(strings(data, "negation")), "negation")
            self._neg = (re.compile(f"(?:{_alternation(neg)})[^,.!?;就才话]{{0,{gap}}}$")
                         if neg else None)
            self._check_learned(data.get("learned"))
            rules_raw = data.get("rules", ())
            if not isinstance(rules_raw, list) or (self.strict and not rules_raw):
                raise ValueError("rules must be a non-empty list of rules")
        except ValueError as exc:
            raise PackError([PackProblem(where, str(exc))]) from None
        self.rules: list[Rule] = []
        problems: list[PackProblem] = []
        seen: set[str] = set()
        for n, spec in enumerate(rules_raw, 1):
            rule_id = spec.get("id") if isinstance(spec, dict) else None
            if not isinstance(rule_id, str) or not rule_id:
                reason = "missing field id" if rule_id is None else f"id must be a string, got {_show(rule_id)}"
                problems.append(PackProblem(where, reason if isinstance(spec, dict) else
                                            f"a rule must be a mapping, got {_show(spec)}", f"#{n}"))
                continue
            if rule_id in seen:
                problems.append(PackProblem(where, "duplicate rule id", rule_id))
                continue
            seen.add(rule_id)
            try:
                self.rules.append(Rule(spec, self.slots, self))
            except ValueError as exc:
                problems.append(PackProblem(where, str(exc), rule_id))
        if problems:
            raise PackError(problems)
        logger.debug("rule pack %s v%s: %d rules", self.name, self.version, len(self.rules))

    def _check_top(self, data: dict[str, Any], allowed_keys: frozenset[str] | None) -> None:
        if not isinstance(self.name, str) or not _PACK_NAME.match(self.name):
            raise ValueError(f"pack must be a name of lower-case letters, digits and _, got {_show(self.name)}")
        if allowed_keys is not None:
            unknown = sorted(set(data) - allowed_keys)
            if unknown:
                raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed_keys))})")
        if "kind" in data and data["kind"] != "category":
            raise ValueError(f"kind must be category, got {_show(data['kind'])}")
        if isinstance(data.get("version"), (dict, list)):
            raise ValueError(f"version must be a string, got {_show(data['version'])}")

    def _check_learned(self, learned: Any) -> None:
        """The ``learned:`` section (analysis/learned.py): one layer, or ``negative`` / ``positive``
        layers for sentiment; every field typed, thresholds in [0, 1], regexes and slots valid."""
        if learned is None:
            return
        if not isinstance(learned, dict):
            raise ValueError(f"learned must be a mapping, got {_show(learned)}")
        split = {"negative", "positive"} & set(learned)
        for key, layer in ({k: learned[k] for k in sorted(split)} if split else {"": learned}).items():
            self._check_layer(layer, f"learned.{key}" if key else "learned")

    def _check_layer(self, layer: Any, where: str) -> None:
        if not isinstance(layer, dict):
            raise ValueError(f"{where} must be a mapping, got {_show(layer)}")
        known = {"name", "threshold", "role_thresholds", "roles", "unless", "role_unless", "needs", "veto", "min_chars"}
        unknown = sorted(set(layer) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if not isinstance(layer.get("name"), str) or not layer["name"]:
            raise ValueError(f"{where}.name must be a model name, got {_show(layer.get('name'))}")
        for key in ("threshold", "veto"):
            if key in layer:
                number(layer[key], f"{where}.{key}", 0, 1)
        if "min_chars" in layer and (isinstance(layer["min_chars"], bool) or not isinstance(layer["min_chars"], int)
                                     or layer["min_chars"] < 0):
            raise ValueError(f"{where}.min_chars must be a whole number >= 0, got {_show(layer['min_chars'])}")
        roles = layer.get("roles", [])
        if not isinstance(roles, list) or not set(roles) <= set(ROLES):
            raise ValueError(f"{where}.roles must be a list of {', '.join(ROLES)}, got {_show(roles)}")
        for key in ("role_thresholds", "role_unless"):
            value = layer.get(key) or {}
            if not isinstance(value, dict) or not set(value) <= set(ROLES):
                raise ValueError(f"{where}.{key} must map roles ({', '.join(ROLES)}) to values, got {_show(value)}")
        for role, value in (layer.get("role_thresholds") or {}).items():
            number(value, f"{where}.role_thresholds.{role}", 0, 1)
        patterns = [(f"{where}.{k}", layer.get(k)) for k in ("unless", "needs")]
        patterns += [(f"{where}.role_unless.{r}", v) for r, v in (layer.get("role_unless") or {}).items()]
        for key, value in patterns:
            self.regex(value, key)

    def regex(self, patterns: Any, where: str) -> re.Pattern[str] | None:
        """Regexes of a pack field (a string, a list, or a list holding lists such as a YAML alias
        of another list; the pack's {SLOT}s allowed) as one compiled alternation, None when
        empty; ValueError naming ``where`` when a value, slot or regex is bad."""
        items = [patterns] if isinstance(patterns, str) else patterns or []
        if not isinstance(items, list):
            raise ValueError(f"{where} must be a regex or a list of regexes, got {_show(patterns)}")
        flat = [x for entry in items for x in ([entry] if isinstance(entry, str) else entry)]
        if not flat:
            return None
        for item in flat:
            if not isinstance(item, str):
                raise ValueError(f"{where} must hold regexes, got {_show(item)}")
        expanded = [_SLOT.sub(lambda m: self._slot_ref(m.group(1), where), x) for x in flat]
        for x in expanded:
            compile_regex(x, where)  # each alone, so a bad one is named by its own error
        return re.compile("|".join(f"(?:{x})" for x in expanded))

    def _slot_ref(self, name: str, where: str) -> str:
        if name not in self.slots:
            raise ValueError(f"{where}: unknown slot {{{name}}} (defined: {', '.join(self.slots) or 'none'})")
        return f"(?:{self.slots[name]})"

    def _slot(self, key: Any, value: Any) -> str:
        if not isinstance(key, str) or not _SLOT_NAME.match(key):
            raise ValueError(f"slot name {_show(key)} must be upper-case letters, digits and _ (used as {{NAME}})")
        try:
            words = strings({key: value}, key)
        except ValueError:
            raise ValueError(f"slot {key} must be a string or a list of strings, got {_show(value)}") from None

        def earlier(m: re.Match[str]) -> str:
            if m.group(1) not in self.slots:
                raise ValueError(f"slot {key}: unknown slot {{{m.group(1)}}} (a slot may use slots defined above it)")
            return f"(?:{self.slots[m.group(1)]})"
        pattern = _SLOT.sub(earlier, _alternation(words))
        compile_regex(pattern, f"slot {key}")
        return pattern

    def negated(self, text: str, start: int) -> bool:
        """True when a negator ends the clause prefix right before `start`."""
        if self._neg is None:
            return False
        lo = max(0, start - 16)
        prefix = text[lo:start]
        cut = max((m.end() for m in _CLAUSE_END.finditer(prefix)), default=0)
        return bool(self._neg.search(prefix[cut:]))

    def hits(self, text: str, role: str) -> list[Hit]:
        """Every rule that fires (at most one hit per rule)."""
        out = []
        for rule in self.rules:
            if rule.conditions is not None:
                continue
            h = rule.find(text, role)
            if h is not None:
                out.append(h)
        return out

    def denied(self, text: str, role: str) -> bool:
        """True when no rule fires and one matched only under a negator (a denial:
        我们不会让你单位知道). One scan of each rule."""
        negated = False
        for rule in self.rules:
            if rule.conditions is not None:
                continue
            hit, neg = rule.scan(text, role)
            if hit is not None:
                return False
            negated = negated or neg
        return negated

    def slot(self, name: str) -> re.Pattern[str]:
        return re.compile(self.slots[name])


@lru_cache(maxsize=None)
def pack(name: str) -> RulePack:
    """The compiled pack `name` (file `<name>.yaml`), cached for the process."""
    return RulePack(f"{name}.yaml")


def versions() -> dict[str, str]:
    """Version of every pack in the folder (for reports)."""
    out = {}
    for path in sorted(RULES_DIR.glob("*.yaml")):
        out[path.stem] = str(load_yaml(path.name).get("version", "0"))
    return out


@lru_cache(maxsize=1)
def builtin_names() -> frozenset[str]:
    """Names of the built-in packs (their files in RULES_DIR)."""
    return frozenset(p.stem for p in RULES_DIR.glob("*.yaml"))


@lru_cache(maxsize=1)
def builtin_kinds() -> frozenset[str]:
    """Every label a built-in pack sets, every call-level kind and every built-in pack name:
    names no category may take."""
    kinds = set(CALL_KINDS) | builtin_names()
    for path in RULES_DIR.glob("*.yaml"):
        for spec in load_yaml(path.name).get("rules", None) or ():
            if isinstance(spec, dict):
                kinds.add(str(spec.get("label")))
                kinds.update(str(a) for a in spec.get("also", ()) or ())
    return frozenset(kinds)


def _read_pack_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PackError([PackProblem(str(path), "not UTF-8 text")]) from None
    except OSError as exc:
        raise PackError([PackProblem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PackError([PackProblem(str(path), f"bad YAML{at}: {problem}")]) from None
    if not isinstance(data, dict):
        raise PackError([PackProblem(str(path), "not a rule pack: expected a YAML mapping with pack, version, rules")])
    return data


def load_pack_file(path: str | Path) -> RulePack:
    """One pack from a rules_dirs folder: a replacement of a built-in detector pack (same
    name) or a category (any other name). Raises PackError."""
    path = Path(path)
    data = _read_pack_file(path)
    name = data.get("pack", path.stem)
    where = str(path)
    if name in builtin_names():
        if name not in OVERRIDABLE:
            raise PackError([PackProblem(where, f"{name!r} is a built-in pack that cannot be replaced from "
                                                f"rules_dirs (replaceable: {', '.join(OVERRIDABLE)}); give a "
                                                "category another name")])
        if data.get("kind") == "category":
            raise PackError([PackProblem(where, f"{name!r} is the name of a built-in pack, so this file replaces it; "
                                                "a category (kind: category, conditions) needs another name")])
        base = pack(name)
        replacement = RulePack(path.name, data=data, source=path, strict=True,
                               allowed_keys=PACK_KEYS | frozenset(base.data))
        known = {r.label for r in base.rules} | {a for r in base.rules for a in r.also}
        bad = [PackProblem(where, f"label {lab!r} is not one the {name} detector reports (known: "
                                  f"{', '.join(sorted(known))})", r.id)
               for r in replacement.rules for lab in (r.label, *r.also) if lab not in known]
        if bad:
            raise PackError(bad)
        return replacement
    if isinstance(name, str) and name in builtin_kinds():
        raise PackError([PackProblem(where, f"{name!r} is a built-in finding kind; choose another category name")])
    return RulePack(path.name, data=data, source=path, category=True, allowed_keys=PACK_KEYS)


def scan(dirs: tuple[str, ...] | list[str]) -> tuple[dict[str, RulePack], dict[str, RulePack], list[PackProblem]]:
    """(replacements, categories, problems) from the packs (``*.yaml``, ``*.yml``) in ``dirs``.

    A later folder's pack replaces an earlier one of the same name; two packs of one name in
    one folder are a problem. Nothing is run; every problem found is listed.
    """
    overrides: dict[str, RulePack] = {}
    categories: dict[str, RulePack] = {}
    problems: list[PackProblem] = []
    for folder in map(Path, dirs):
        if not folder.is_dir():
            problems.append(PackProblem(str(folder), "not a folder" if folder.exists() else "no such folder"))
            continue
        here: dict[str, Path] = {}
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
            try:
                loaded = load_pack_file(path)
            except PackError as exc:
                problems += exc.problems
                continue
            if loaded.name in here:
                problems.append(PackProblem(str(path), f"pack {loaded.name!r} is already defined by "
                                                       f"{here[loaded.name]}"))
                continue
            here[loaded.name] = path
            (categories if loaded.category else overrides)[loaded.name] = loaded
    return overrides, categories, problems


class Catalog:
    """The packs analysis runs with: the built-ins, replaced or extended by the packs in ``dirs``.

    ``pack(name)`` is the replacement of a built-in detector pack when a folder has one, else
    the built-in; ``categories`` maps each category name to its pack (see analysis.categories).
    Raises PackError when any pack in ``dirs`` is bad or a folder is missing.
    """

    def __init__(self, dirs: tuple[str, ...] = ()) -> None:
        self.dirs = tuple(str(d) for d in dirs)
        self.overrides, self.categories, problems = scan(self.dirs)
        if problems:
            raise PackError(problems)

    def pack(self, name: str) -> RulePack:
        return self.overrides.get(name) or pack(name)

    def versions(self) -> dict[str, str]:
        """Version of every pack in use, replacements and categories included."""
        return {**versions(), **{n: p.version for n, p in (*self.overrides.items(), *self.categories.items())}}

    def __repr__(self) -> str:
        return f"Catalog(dirs={self.dirs!r}, overrides={sorted(self.overrides)}, categories={sorted(self.categories)})"


@lru_cache(maxsize=32)
def catalog(dirs: tuple[str, ...] = ()) -> Catalog:
    """The catalog of ``dirs`` (``settings.analysis.rules_dirs``), built once per process."""
    return Catalog(tuple(dirs))
