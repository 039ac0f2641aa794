"""Leave-one-set-out figures for the learned wording layer (analysis/learned.py).

    python -m analysis.training.eval_wording                      # LOSO table, thresholds
    python -m analysis.training.eval_wording --surrogate [--veto-sweep]
        # round 5 (default --surrogate-set r5): blind11 as first seen (round 4 was frozen before
        # it was written), models trained on every set but blind11, dev15 and dev16 (written with
        # blind11's misses in mind); --veto-sweep: F1 per veto value
    python -m analysis.training.eval_wording --surrogate --surrogate-set r4
        # round 4: blind9 as first seen (round 3 was frozen before it was opened), models
        # trained on every other set
    python -m analysis.training.eval_wording --surrogate --surrogate-set r3
        # round 3: blind8 as first seen (the rules were frozen before it was written), models
        # trained on every set but blind8 and blind9
    python -m analysis.training.eval_wording --surrogate --surrogate-set r2
        # round 2: blind7 as first seen, models trained on the ten sets before it, combined
        # with this checkout's rules (RULES.jsonl instead: blind7 annotated by other rules)
    python -m analysis.training.eval_wording --surrogate RULES.jsonl --surrogate-set r1
        # round 1: blind6 as first seen: RULES.jsonl = blind6 annotated by the rules of 6ebff03, e.g.
        #   git worktree add /tmp/wt-base 6ebff03 && ln -s $REPO/models /tmp/wt-base/models
        #   PYTHONPATH=/tmp/wt-base python -c "from analysis.annotate import annotate_jsonl; \
        #     annotate_jsonl('analysis/evaldata/blind6_utterances.jsonl', '/tmp/b6_rules_6ebff03.jsonl')"

For every set (one writer / round, analysis.training.labelled_sets) the wording models are
trained on the OTHER sets only and score the held-out set. Printed per held-out set, per
label P/R/F1 (abuse, threat, privacy, self_harm) and sentiment accuracy for:
  model   the learned component alone at the chosen thresholds (sentiment: negative if
          p_neg >= its threshold, else positive if p_pos >= its, else neutral);
  rules   this checkout's rules (and sentiment cues) without the learned layer;
  both    rules + learned layer: the detectors themselves (analyze_text) with the fold's
          models and the chosen thresholds swapped in (learned.using), vetoes as in the packs.
Thresholds: per model the lowest of GRID whose pooled held-out precision (model alone, on the
roles it may label, `unless` / `role_unless` / `needs` applied) is >= --precision (labels) or
--sentiment-precision (the two sentiment models), 0.95 and 0.9 (round 1: 0.95 both; on the
blind7-as-first-seen surrogate sentiment 0.9 gave accuracy 0.918 against 0.899, labels at 0.9
gained 0.02 abuse F1 only), with at least 5 predictions; a
role with >= 20 predictions that falls short at that threshold gets its own, higher one.
Rounds 1-2 held labels at 0.95 (at 0.9 the layer gave false labels on hand-written hard
negatives and on the ground-truth calls). Round 3 (three more training sets, 1,805 rows;
`min_chars` keeps the models off short turns): labels at 0.9 except abuse, still 0.95
(PRECISION_FOR: at 0.9 its model labels ordinary turns such as 什么事啊?要紧吗? at 0.59); on
the blind8 surrogate 0.9 gave threat 0.96 against 0.92 at 0.95.
The rules of this checkout were tuned on every set, so "rules" and "both" are in-sample for
the rules; the "model" rows and the surrogate are the out-of-sample evidence.

--surrogate: the models are trained on the sets written before the surrogate's test set
(SURROGATE / SURROGATE_R1 in labelled_sets; round 3's SURROGATE_R3: every set but blind8), their thresholds chosen by leave-one-set-out
among those sets only, and combined with the given rule outputs (the rules as they were
before the test set was seen) or, with no file, with this checkout's rules. blind7 has been
read (its misses guided round 2's kinds), so the round-2 surrogate is not blind.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from analysis import learned
from analysis.annotate import analyze_text
from analysis.evaluate import prf
from analysis.features import LinearModel
from analysis.normalize import normalize
from analysis.rules import pack
from analysis.training.labelled_sets import SURROGATE, SURROGATE_R1, SURROGATE_R3, SURROGATE_R4, SURROGATE_R5, load_sets
from analysis.training.train_wording import LABEL_MODELS, MODEL_NAMES, RECIPE, SENTIMENT_MODELS, matrix, train_all

LABELS = tuple(LABEL_MODELS)  # abuse, threat, privacy, self_harm
ORDER = ("threat", "abuse", "privacy", "self_harm")  # as analyze_text runs the detectors
GRID = tuple(round(x, 2) for x in np.arange(0.30, 0.951, 0.05)) + (0.97, 0.99)
MISCONDUCT = frozenset(LABELS)


def layers() -> dict[str, learned.Layer]:
    """The packs' learned layers by model name."""
    out = {LABEL_MODELS[lab]: learned.layer(pack(lab)) for lab in LABELS}
    out[SENTIMENT_MODELS["negative"]], out[SENTIMENT_MODELS["positive"]] = learned.sentiment_layers(pack("sentiment"))
    return out


def oof_models(sets: dict[str, list[dict]]) -> dict[str, dict[str, LinearModel]]:
    """Held-out set name -> the wording models trained on all the other sets."""
    rows = [r for rs in sets.values() for r in rs]
    X = matrix(rows)
    out: dict[str, dict[str, LinearModel]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets:
            idx = [i for i, r in enumerate(rows) if r["set"] != name]
            paths = train_all([rows[i] for i in idx], Path(tmp) / name, f"all but {name}", X=X[idx])
            out[name] = {n: LinearModel(p) for n, p in paths.items()}
    return out


def probs_of(rows: list[dict], models: dict[str, LinearModel]) -> dict[str, dict[str, float]]:
    """Row id -> model name -> probability."""
    return {r["id"]: {n: m.proba(normalize(r["text"])) for n, m in models.items()} for r in rows}


def oof_probs(sets: dict[str, list[dict]], models: dict | None = None) -> dict[str, dict[str, float]]:
    """Row id -> model name -> probability from models trained without the row's set."""
    models = models or oof_models(sets)
    return {k: v for name, rs in sets.items() for k, v in probs_of(rs, models[name]).items()}


def _allowed(lay: learned.Layer, row: dict) -> bool:
    return lay.allows(normalize(row["text"]), row["role"])


def _gold(row: dict, name: str) -> bool:
    for lab, n in LABEL_MODELS.items():
        if n == name:
            return lab in row.get("labels", ())
    cls = next(c for c, n in SENTIMENT_MODELS.items() if n == name)
    return row.get("sentiment") == cls


def _lowest(cand: list[tuple[float, bool]], goal: float, start: float = 0.0) -> tuple[float, float, int]:
    """(lowest GRID threshold >= start whose precision on cand reaches goal, precision, predictions)."""
    for t in GRID:
        pred = [g for p, g in cand if p >= t]
        if t >= start and len(pred) >= 5 and sum(pred) / len(pred) >= goal:
            return t, sum(pred) / len(pred), len(pred)
    return GRID[-1], 0.0, 0


# labels held to another held-out precision than --precision (round 3: abuse at 0.95, since at
# 0.9 its model labels ordinary turns of the ground-truth calls: 什么事啊?要紧吗? scores 0.59)
PRECISION_FOR = {LABEL_MODELS["abuse"]: 0.95}


def choose_thresholds(rows: list[dict], probs: dict, target: float,
                      sentiment_target: float) -> dict[str, tuple[float, float, int]]:
    """Model name -> (threshold, pooled held-out precision, predictions); per role too, as
    "name@role", where a role with >= 20 predictions falls short of the goal at the model's
    threshold (that role then gets the lowest threshold that reaches it)."""
    lays = layers()
    out = {}
    for name in MODEL_NAMES:
        goal = sentiment_target if name in SENTIMENT_MODELS.values() else PRECISION_FOR.get(name, target)
        allowed = [r for r in rows if _allowed(lays[name], r)]
        out[name] = best = _lowest([(probs[r["id"]][name], _gold(r, name)) for r in allowed], goal)
        for role in sorted({r["role"] for r in allowed}):
            cand = [(probs[r["id"]][name], _gold(r, name)) for r in allowed if r["role"] == role]
            pred = [g for p, g in cand if p >= best[0]]
            if len(pred) >= 20 and sum(pred) / len(pred) < goal:
                out[f"{name}@{role}"] = _lowest(cand, goal, best[0])
    return out


def _with(th: dict[str, tuple[float, float, int]], veto: dict[str, float] | None = None) -> dict[str, learned.Layer]:
    """The packs' layers with the chosen thresholds (and per-role ones); `veto` by model name
    replaces the packs' vetoes for the names it holds."""
    out = {}
    for name, lay in layers().items():
        roles = tuple((k.split("@")[1], v[0]) for k, v in th.items() if k.startswith(name + "@"))
        out[name] = dataclasses.replace(lay, threshold=th[name][0], role_thresholds=roles,
                                        veto=(veto or {}).get(name, lay.veto))
    return out


def detected(rows: list[dict], models: dict[str, LinearModel | None],
             lays: dict[str, learned.Layer] | None = None) -> dict[str, tuple[set[str], str]]:
    """(labels, sentiment) per row id from the detectors themselves, with `models` (and
    `lays`: thresholds, vetoes) swapped in."""
    with learned.using(models, lays):
        return {r["id"]: (set(a.labels), a.sentiment) for r in rows for a in [analyze_text(r["role"], r["text"])]}


def combine(rule_labels: set[str], rule_sentiment: str, row: dict, probs: dict[str, float],
            lays: dict[str, learned.Layer]) -> tuple[set[str], str]:
    """Rules + learned layer from precomputed probabilities, as the detectors combined them before
    vetoes (round 3): for a surrogate whose rule outputs come from a file of older rules."""
    labels = set(rule_labels)
    role = row["role"]
    for lab in ORDER:
        lay = lays[LABEL_MODELS[lab]]
        if lab in labels or (lab == "abuse" and "threat" in labels) or not _allowed(lay, row) \
                or (lab == "privacy" and "threat" in rule_labels):
            continue
        if probs[lay.name] >= lay.threshold_for(role):
            labels.add(lab)
    if labels & MISCONDUCT:
        return labels, "negative"
    sent = rule_sentiment
    if sent == "neutral":
        neg, pos = lays[SENTIMENT_MODELS["negative"]], lays[SENTIMENT_MODELS["positive"]]
        if _allowed(neg, row) and probs[neg.name] >= neg.threshold_for(role):
            sent = "negative"
        elif _allowed(pos, row) and probs[pos.name] >= pos.threshold_for(role):
            sent = "positive"
    return labels, sent


def model_alone(row: dict, probs: dict[str, float], lays: dict[str, learned.Layer]) -> tuple[set[str], str]:
    labels = {lab for lab in LABELS if _allowed(lays[LABEL_MODELS[lab]], row)
              and probs[LABEL_MODELS[lab]] >= lays[LABEL_MODELS[lab]].threshold_for(row["role"])}
    neg, pos = lays[SENTIMENT_MODELS["negative"]], lays[SENTIMENT_MODELS["positive"]]
    sent = ("negative" if probs[neg.name] >= neg.threshold_for(row["role"]) else
            "positive" if probs[pos.name] >= pos.threshold_for(row["role"]) else "neutral")
    return labels, sent


def rules_only(rows: list[dict]) -> dict[str, tuple[set[str], str]]:
    """This checkout's rules and cues without the learned layer."""
    return detected(rows, {n: None for n in MODEL_NAMES})


def score(rows: list[dict], preds: dict[str, tuple[set[str], str]]) -> dict:
    c = {lab: Counter() for lab in LABELS}
    ok = 0
    for r in rows:
        labels, sent = preds[r["id"]]
        gold = set(r.get("labels", ()))
        for lab in LABELS:
            c[lab]["tp" if lab in labels and lab in gold else "fp" if lab in labels else
                   "fn" if lab in gold else "tn"] += 1
        ok += sent == r.get("sentiment")
    out = {lab: prf(c[lab]["tp"], c[lab]["fp"], c[lab]["fn"]) + (c[lab]["tp"] + c[lab]["fn"],) for lab in LABELS}
    out["sentiment"] = ok / len(rows)
    return out


def _line(name: str, kind: str, s: dict) -> str:
    cells = [f"{s[lab][0]:.2f}/{s[lab][1]:.2f}/{s[lab][2]:.2f}" for lab in LABELS]
    return f"| {name} | {kind} | " + " | ".join(cells) + f" | {s['sentiment']:.3f} |"


HEADER = ("| held out | layer | abuse P/R/F1 | threat P/R/F1 | privacy P/R/F1 | self_harm P/R/F1 | sentiment |\n"
          "|---|---|---|---|---|---|---|")


def _thresholds_table(th: dict) -> None:
    for name, (t, p, n) in th.items():
        print(f"  {name}: threshold {t:.2f} (held-out precision {p:.2f} on {n} predictions)")


def loso(target: float, sentiment_target: float) -> dict[str, float]:
    sets = load_sets()
    rows = [r for rs in sets.values() for r in rs]
    models = oof_models(sets)
    probs = oof_probs(sets, models)
    th = choose_thresholds(rows, probs, target, sentiment_target)
    print(f"thresholds (pooled leave-one-set-out, precision >= {target}, sentiment {sentiment_target}):")
    _thresholds_table(th)
    lays = _with(th)
    rule = rules_only(rows)
    print(HEADER)
    for name, rs in sets.items():
        alone = {r["id"]: model_alone(r, probs[r["id"]], lays) for r in rs}
        both = detected(rs, models[name], lays)
        print(_line(name, "model", score(rs, alone)))
        print(_line(name, "rules", score(rs, rule)))
        print(_line(name, "both", score(rs, both)))
    alone = {r["id"]: model_alone(r, probs[r["id"]], lays) for r in rows}
    print(_line("all (pooled)", "model", score(rows, alone)))
    return {n: v[0] for n, v in th.items()}


VETOED = (LABEL_MODELS["abuse"], LABEL_MODELS["threat"], LABEL_MODELS["privacy"],
          SENTIMENT_MODELS["negative"], SENTIMENT_MODELS["positive"])
VETO_GRID = (None, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def surrogate(rules_file: Path | None, target: float, sentiment_target: float, split=SURROGATE,
              sweep: bool = False) -> None:
    test_name, train_names = split
    sets = load_sets()
    train_sets = {n: sets[n] for n in train_names}
    train_rows = [r for rs in train_sets.values() for r in rs]
    th = choose_thresholds(train_rows, oof_probs(train_sets), target, sentiment_target)
    print(f"surrogate: models trained on {', '.join(train_names)}; thresholds by leave-one-set-out among them:")
    _thresholds_table(th)
    lays = _with(th)
    test = sets[test_name]
    with tempfile.TemporaryDirectory() as tmp:
        paths = train_all(train_rows, Path(tmp), "surrogate")
        models = {n: LinearModel(p) for n, p in paths.items()}
    probs = probs_of(test, models)
    if rules_file is None:
        base = rules_only(test)
        both = detected(test, models, lays)
    else:  # older rules' outputs: combined here as the detectors of that time did (no vetoes)
        with open(rules_file, encoding="utf-8") as fh:
            base = {r["id"]: (set(r["labels"]), r["sentiment"]) for r in map(json.loads, fh) if r.get("id")}
        both = {r["id"]: combine(*base[r["id"]], r, probs[r["id"]], lays) for r in test}
    print(HEADER)
    print(_line(test_name, "model", score(test, {r["id"]: model_alone(r, probs[r["id"]], lays) for r in test})))
    print(_line(test_name, f"rules ({rules_file.name if rules_file else 'this checkout'})", score(test, base)))
    print(_line(test_name, "both", score(test, both)))
    if sweep and rules_file is None:
        print(f"veto sweep on {test_name} (one model's veto varied, the others as in the packs):")
        for name in VETOED:
            cells = []
            for v in VETO_GRID:
                s = score(test, detected(test, models, _with(th, {name: v})))
                key = name.removeprefix("wording_")
                val = s["sentiment"] if key.startswith("sentiment") else s[key][2]
                cells.append(f"{'-' if v is None else v}: {val:.3f}")
            print(f"  {name}: " + ", ".join(cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--surrogate", type=Path, nargs="?", const=Path("-"), metavar="RULES.jsonl",
                    help="the surrogate split; RULES.jsonl: its test set annotated by older rules (default: this checkout's)")
    ap.add_argument("--surrogate-set", choices=("r5", "r4", "r3", "r2", "r1"), default="r5",
                    help="r5: blind11 as first seen (default); r4: blind9; r3: blind8; r2: blind7; r1: round 1's blind6")
    ap.add_argument("--veto-sweep", action="store_true",
                    help="with --surrogate: F1 (sentiment accuracy) per veto value of each vetoing model")
    ap.add_argument("--precision", type=float, default=0.9,
                    help="held-out precision the label models must reach (round 3: 0.9; abuse: PRECISION_FOR)")
    ap.add_argument("--label-precision", action="append", default=[], metavar="LABEL=P",
                    help="another precision for one label (abuse=0.95 is the default, PRECISION_FOR)")
    ap.add_argument("--sentiment-precision", type=float, default=0.9,
                    help="the same for the sentiment models (0.9 since round 2: better on the blind7 surrogate)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="try another recipe value (C=1, class_weight=none), as when the recipe was chosen")
    args = ap.parse_args(argv)
    for kv in args.label_precision:
        lab, _, value = kv.partition("=")
        if lab not in LABEL_MODELS:
            ap.error(f"--label-precision: unknown label {lab!r} (known: {', '.join(LABEL_MODELS)})")
        try:
            PRECISION_FOR[LABEL_MODELS[lab]] = float(value)
        except ValueError:
            ap.error(f"--label-precision: {lab}={value!r} is not a number")
    for kv in args.set:
        key, _, value = kv.partition("=")
        if key not in RECIPE:
            ap.error(f"--set: unknown recipe key {key!r} (known: {', '.join(RECIPE)})")
        try:
            RECIPE[key] = None if value == "none" else type(RECIPE[key])(value) if RECIPE[key] is not None else value
        except ValueError:
            ap.error(f"--set: {key}={value!r} is not a {type(RECIPE[key]).__name__}")
    if args.surrogate:
        surrogate(None if str(args.surrogate) == "-" else args.surrogate, args.precision, args.sentiment_precision,
                  {"r5": SURROGATE_R5, "r4": SURROGATE_R4, "r3": SURROGATE_R3, "r2": SURROGATE, "r1": SURROGATE_R1}[args.surrogate_set], args.veto_sweep)
    else:
        loso(args.precision, args.sentiment_precision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
