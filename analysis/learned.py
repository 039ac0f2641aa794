"""Learned in-domain layer over the rule packs (abuse, threat, privacy, self_harm, sentiment).

Each pack's `learned:` section names a model (`models/<name>.npz`, hashed char 1-3-grams +
jieba word 1-2-grams, logistic regression trained on the repository's labelled utterance
sets by `python -m analysis.training.train_wording`), the `threshold` its probability must
reach (`role_thresholds`: a higher one for a role), the `roles` it may label, `unless`
patterns (regexes, the pack's {SLOT}s allowed) on which it never fires, `role_unless`
(role -> patterns vetoing it for that role only) and `needs` (a pattern that must be there).
The model ADDS a label the rules did not give; with `veto` set (round 3) it also checks the
rules: a rule's reading stands only where the model's probability is at least `veto`
(`confirmed`). `min_chars`: on shorter turns the model neither adds nor vetoes. Thresholds
were chosen by leave-one-set-out (`analysis.training.eval_wording`: held-out precision >= 0.9,
abuse 0.95; sentiment 0.9), vetoes on blind8, blind9 and blind11 as first seen (`--veto-sweep`, round 5). Where
a rule of the pack matched only under a negator (a denial: 我们不会让你单位知道), the model adds
nothing either.

Sentiment (`sentiment.yaml` `learned:`): two models, negative-vs-rest and positive-vs-rest;
a negative (positive) reading of the cues whose model vetoes it becomes neutral; when the
reading is neutral, a model at or over its threshold makes it negative (or positive).

`using({name: model}, {name: layer})` swaps models (fold models trained without the held-out
set) and layers (other thresholds or vetoes) in for evaluation; numpy and jieba only at inference.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache

from analysis.features import LinearModel, load_model
from analysis.rules import Hit, RulePack

_WORD_CHARS = re.compile(r"\w")
_override: dict[str, LinearModel | None] = {}
_layer_override: dict[str, "Layer"] = {}


@contextlib.contextmanager
def using(models: dict[str, LinearModel | None], layers: dict[str, "Layer"] | None = None):
    """Within the block, `model(name)` returns models[name] for the names given (None: off),
    and a pack whose layer names a model in `layers` gets that layer (other thresholds, veto)."""
    saved, saved_layers = dict(_override), dict(_layer_override)
    _override.update(models)
    _layer_override.update(layers or {})
    try:
        yield
    finally:
        _override.clear()
        _override.update(saved)
        _layer_override.clear()
        _layer_override.update(saved_layers)


def model(name: str) -> LinearModel | None:
    return _override[name] if name in _override else load_model(name)


@dataclass(frozen=True)
class Layer:
    """One pack's learned layer: model name, threshold, roles it may label, veto regex."""

    name: str
    threshold: float
    roles: frozenset[str]
    unless: re.Pattern[str] | None
    rule_id: str
    role_thresholds: tuple[tuple[str, float], ...] = ()
    role_unless: tuple[tuple[str, re.Pattern[str]], ...] = ()
    needs: re.Pattern[str] | None = None
    veto: float | None = None
    min_chars: int = 0

    def long_enough(self, norm: str) -> bool:
        """Whether the utterance has `min_chars` letters/digits: the labelled sets hold almost no
        short turns, so the model's word on one (什么事啊, 你敢) is not evidence either way."""
        return self.min_chars <= 0 or len(_WORD_CHARS.findall(norm)) >= self.min_chars

    def threshold_for(self, role: str) -> float:
        return dict(self.role_thresholds).get(role, self.threshold)

    def allows(self, norm: str, role: str) -> bool:
        """True when the model may label this utterance of `role` at all (roles, vetoes, needs)."""
        if role not in self.roles or not self.long_enough(norm) or (self.unless is not None and self.unless.search(norm)):
            return False
        veto = dict(self.role_unless).get(role)
        if veto is not None and veto.search(norm):
            return False
        return self.needs is None or bool(self.needs.search(norm))

    def proba(self, norm: str) -> float | None:
        m = model(self.name)
        return None if m is None or not norm else m.proba(norm)

    def vetoes(self, norm: str, role: str) -> bool:
        """True when the model, asked about a rule's reading, disagrees: its probability is
        under `veto` (a role it may label only; no veto configured: never)."""
        if self.veto is None or role not in self.roles or not self.long_enough(norm):
            return False
        p = self.proba(norm)
        return p is not None and p < self.veto

    def fires(self, norm: str, role: str) -> float | None:
        """The model's probability when it may add the label here, else None."""
        if not self.allows(norm, role):
            return None
        p = self.proba(norm)
        return p if p is not None and p >= self.threshold_for(role) else None


def from_model(h: Hit) -> bool:
    """Whether a hit was added by a model (a learned layer's or the COLD classifier's), not a rule."""
    return h.rule_id.startswith("model:")


def _layer(p: RulePack, cfg: dict | None) -> Layer | None:
    if not cfg or not cfg.get("name"):
        return None
    roles = cfg.get("roles") or ["collector", "customer", "third_party", "unknown"]
    role_unless = tuple((r, p.regex(pats, "learned.role_unless")) for r, pats in (cfg.get("role_unless") or {}).items())
    return Layer(str(cfg["name"]), float(cfg.get("threshold", 0.9)), frozenset(roles),
                 p.regex(cfg.get("unless"), "learned.unless"), f"model:{cfg['name']}",
                 tuple((r, float(v)) for r, v in (cfg.get("role_thresholds") or {}).items()),
                 tuple((r, rx) for r, rx in role_unless if rx is not None), p.regex(cfg.get("needs"), "learned.needs"),
                 None if cfg.get("veto") is None else float(cfg["veto"]), int(cfg.get("min_chars", 0)))


def _swapped(lay: Layer | None) -> Layer | None:
    return _layer_override.get(lay.name, lay) if lay is not None else None


@lru_cache(maxsize=16)
def _pack_layer(p: RulePack) -> Layer | None:
    return _layer(p, p.data.get("learned"))


def layer(p: RulePack) -> Layer | None:
    """The pack's `learned:` layer (None when the pack has none)."""
    return _swapped(_pack_layer(p))


@lru_cache(maxsize=4)
def _sentiment_layers(p: RulePack) -> tuple[Layer | None, Layer | None]:
    cfg = p.data.get("learned") or {}
    return _layer(p, cfg.get("negative")), _layer(p, cfg.get("positive"))


def sentiment_layers(p: RulePack) -> tuple[Layer | None, Layer | None]:
    """(negative, positive) layers of the sentiment pack's `learned:` section."""
    neg, pos = _sentiment_layers(p)
    return _swapped(neg), _swapped(pos)


def hit(p: RulePack, label: str, norm: str, role: str) -> Hit | None:
    """A Hit for `label` from the pack's learned layer, or None (no layer, role, veto, threshold,
    or a denial: a rule of the pack matched only under a negator, 我们不会让你单位知道)."""
    lay = layer(p)
    prob = lay.fires(norm, role) if lay is not None else None
    if prob is None or p.denied(norm, role):
        return None
    rule = next((r for r in p.rules if r.label == label and (not r.roles or role in r.roles)), p.rules[0])
    return Hit(lay.rule_id, label, round(prob, 3), rule.severity_for(role), 0, len(norm))


def confirmed(p: RulePack, hits: list[Hit], norm: str, role: str) -> list[Hit]:
    """`hits` less the rules' ones when the pack's learned layer vetoes them (`veto:` set and
    the model's probability under it); model hits are kept."""
    lay = layer(p)
    if not hits or lay is None or not lay.vetoes(norm, role):
        return hits
    return [h for h in hits if from_model(h)]


def rules_then_model(p: RulePack, label: str, norm: str, role: str) -> list[Hit]:
    """The pack's rule hits (less a vetoed reading); when none stand, the learned layer's hit
    for `label` (if any)."""
    hits = confirmed(p, p.hits(norm, role), norm, role)
    if not hits:
        h = hit(p, label, norm, role)
        hits = [h] if h else []
    return hits


def adjust_sentiment(p: RulePack, sentiment: str, norm: str, role: str) -> str:
    """The cues' reading checked by the models: a negative/positive one whose model vetoes it
    becomes neutral; a neutral one turns negative/positive when that model reaches its threshold."""
    neg, pos = sentiment_layers(p)
    vetoer = {"negative": neg, "positive": pos}.get(sentiment)
    if vetoer is not None and vetoer.vetoes(norm, role):
        sentiment = "neutral"
    if sentiment != "neutral":
        return sentiment
    if neg is not None and neg.fires(norm, role) is not None:
        return "negative"
    if pos is not None and pos.fires(norm, role) is not None:
        return "positive"
    return sentiment
