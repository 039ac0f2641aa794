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
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger("analysis")

RULES_DIR = Path(__file__).resolve().parent
_SLOT = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_SLOT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CLAUSE_END = re.compile(r"[,.!?;:]")


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
    """A compiled rule (see module docstring for the YAML fields)."""

    __slots__ = ("id", "label", "also", "roles", "severity", "score", "description",
                 "regex", "parts", "exceptions", "unless", "negatable", "pack")

    def __init__(self, spec: dict[str, Any], slots: dict[str, str], pack: "RulePack") -> None:
        self.id: str = spec["id"]
        self.label: str = spec["label"]
        self.also: tuple[str, ...] = tuple(spec.get("also", ()))
        roles = spec.get("roles")
        self.roles: frozenset[str] | None = frozenset(roles) if roles else None
        sev = spec.get("severity", "medium")
        self.severity: dict[str, str] = sev if isinstance(sev, dict) else {"default": sev}
        self.score: float = float(spec.get("score", 0.9))
        self.description: str = spec.get("description", "")
        self.negatable: bool = bool(spec.get("negatable", False))
        self.pack = pack
        window = int(spec.get("window", 8))
        # a decimal point (1.5万) does not end the clause
        gap = f"(?:[^.!?;]|(?<=[0-9])\\.(?=[0-9])){{0,{window}}}?"
        alts = [self._expand(p, slots) for p in spec.get("patterns", ())]
        for intent in spec.get("intents", ()):
            alts.append(gap.join(f"(?:{self._expand('{' + s + '}' if _SLOT_NAME.match(s) else s, slots)})"
                                 for s in intent))
        if not alts:
            raise ValueError(f"rule {self.id}: no patterns or intents")
        self.regex = re.compile("|".join(f"(?:{a})" for a in alts))
        # Each top-level alternative compiled alone: the regex engine can then skip
        # ahead to its literal prefix, several times faster than one big alternation.
        self.parts = [re.compile(x) for p in alts for x in _split_top(p)]
        exc = [self._expand(p, slots) for p in spec.get("exceptions", ())]
        self.exceptions = re.compile("|".join(exc)) if exc else None
        unl = [self._expand(p, slots) for p in spec.get("unless", ())]
        self.unless = re.compile("|".join(unl)) if unl else None

    def _expand(self, pattern: str, slots: dict[str, str]) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in slots:
                raise ValueError(f"rule {self.id}: unknown slot {{{name}}}")
            return f"(?:{slots[name]})"
        return _SLOT.sub(sub, pattern)

    def severity_for(self, role: str) -> str:
        return self.severity.get(role, self.severity.get("default", "medium"))

    def find(self, text: str, role: str) -> Hit | None:
        """First match of this rule in `text` said by `role` that survives exceptions."""
        if self.roles is not None and role not in self.roles and role != "unknown":
            return None
        exc_spans: list[tuple[int, int]] | None = None
        for rx in self.parts:
            m = rx.search(text)
            if m is None:
                continue
            if exc_spans is None:
                if self.unless is not None and self.unless.search(text):
                    return None
                exc_spans = [e.span() for e in self.exceptions.finditer(text)] if self.exceptions else []
            while m is not None:
                s, e = m.span()
                vetoed = any(a < e and s < b for a, b in exc_spans)
                if not vetoed and self.negatable and self.pack.negated(text, s):
                    vetoed = True
                if not vetoed:
                    return Hit(self.id, self.label, self.score, self.severity_for(role), s, e, self.also)
                m = rx.search(text, s + 1)
        return None


class RulePack:
    """All rules of one YAML file, in file order."""

    def __init__(self, name: str) -> None:
        data = load_yaml(name)
        self.name: str = data.get("pack", name.rsplit(".", 1)[0])
        self.version: str = str(data.get("version", "0"))
        self.data = data
        slots_raw: dict[str, Any] = data.get("slots", {}) or {}
        self.slots: dict[str, str] = {}
        for key, value in slots_raw.items():  # slots may use earlier slots
            self.slots[key] = _SLOT.sub(lambda m: f"(?:{self.slots[m.group(1)]})", _alternation(value))
        neg = data.get("negation")
        gap = int(data.get("negation_gap", 6))
        self._neg = (re.compile(f"(?:{_alternation(neg)})[^,.!?;就才话]{{0,{gap}}}$")
                     if neg else None)
        self.rules = [Rule(spec, self.slots, self) for spec in data.get("rules", ())]
        logger.debug("rule pack %s v%s: %d rules", self.name, self.version, len(self.rules))

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
            h = rule.find(text, role)
            if h is not None:
                out.append(h)
        return out

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
