"""Evaluate the detectors on labelled utterances and the abuse classifier on COLD dev.

    python -m analysis.evaluate /work/shared/data/dev_utterances.jsonl [more files/dirs]
        [--cold PATH/TO/COLD/dev.csv | --no-cold] [--errors]

Inputs: JSONL rows (role, text, labels[, sentiment]) and/or call JSON files (with
`turns`) or folders of them. Prints per-label precision/recall/F1, sentiment accuracy,
call-level findings per call, and the classifier's COLD dev scores (COLD dev is close to
COLD train: `python -m analysis.training.eval_splits` scores topic and length splits).

Outcome rows (rows with `started_at` or `promise`, as in dev_outcomes.jsonl) are judged on
the outcome labels only (promise_to_pay ... wrong_party), and their promises on exact
amount, exact due and both, over the promises detected on rows whose gold holds one; the
other rows are judged on `LABELS` only (outcome labels are not annotated there).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from analysis.annotate import LABELS, analyze_text, promise_of
from analysis.normalize import normalize
from analysis.outcomes import OUTCOME_LABELS


def load_rows(path: Path) -> list[dict]:
    """Labelled utterances from a JSONL file, a call JSON file or a folder of call JSONs."""
    if path.is_dir():
        return [r for p in sorted(path.glob("*.json")) if p.name != "scripts.json"
                for r in load_rows(p)]
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    data = json.loads(path.read_text(encoding="utf-8"))
    calls = data if isinstance(data, list) else [data]
    rows = []
    for call in calls:
        for i, t in enumerate(call.get("turns", ())):
            rows.append({"id": f"{call.get('call_id', path.stem)}#{i}", "role": t["role"],
                         "text": t["text"], "labels": t.get("labels", []),
                         "sentiment": t.get("sentiment"), "call_id": call.get("call_id", path.stem),
                         "start": t.get("start", float(i)), "end": t.get("end", float(i) + 1)})
    return rows


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def is_outcome_row(row: dict) -> bool:
    """True for rows annotated with call outcomes (they carry `started_at` or `promise`)."""
    return "started_at" in row or "promise" in row


def _per_label(counts: dict[str, Counter]) -> dict[str, dict]:
    out = {}
    for lab, c in counts.items():
        p, rc, f = prf(c["tp"], c["fp"], c["fn"])
        out[lab] = {"precision": round(p, 4), "recall": round(rc, 4), "f1": round(f, 4),
                    "support": c["tp"] + c["fn"], "predicted": c["tp"] + c["fp"]}
    return out


def _same_amount(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 0.005


def evaluate_rows(rows: list[dict]) -> dict:
    """Per-label P/R/F1 (+ support), sentiment accuracy and the misclassified rows.

    `labels` covers the rows without outcome annotations, `outcomes` the outcome rows
    (n_outcome_rows of them); `promise` counts gold promises, the ones detected (gold
    promise and promise_to_pay predicted) and how many of those have the exact amount,
    due and both (rates over detected).
    """
    counts = {lab: Counter() for lab in LABELS}
    ocounts = {lab: Counter() for lab in OUTCOME_LABELS}
    prom = Counter()
    sent_total = sent_ok = n_out = 0
    errors = []
    for r in rows:
        a = analyze_text(r["role"], r["text"])
        sent = a.sentiment
        outcome_row = is_outcome_row(r)
        judged = OUTCOME_LABELS if outcome_row else LABELS
        pred = [lab for lab in a.labels if lab in judged]
        gold = set(r.get("labels") or [])
        for lab in judged:
            key = ("tp" if lab in pred else "fn") if lab in gold else ("fp" if lab in pred else "tn")
            (ocounts if outcome_row else counts)[lab][key] += 1
        error = set(pred) != gold
        if outcome_row:
            n_out += 1
            got = promise_of(a, r.get("started_at"))
            want = r.get("promise")
            if want:
                prom["gold"] += 1
                if got is not None:
                    prom["detected"] += 1
                    ok_amount = _same_amount(got["amount"], want.get("amount"))
                    ok_due = got["due"] == want.get("due")
                    prom["amount_ok"] += ok_amount
                    prom["due_ok"] += ok_due
                    prom["both_ok"] += ok_amount and ok_due
                    error = error or not (ok_amount and ok_due)
        elif r.get("sentiment"):
            sent_total += 1
            sent_ok += sent == r["sentiment"]
            error = error or sent != r["sentiment"]
        if error:
            e = {"id": r.get("id"), "role": r["role"], "gold": sorted(gold), "pred": sorted(pred),
                 "gold_sentiment": r.get("sentiment"), "pred_sentiment": sent, "text": r["text"]}
            if outcome_row:
                e["gold_promise"] = r.get("promise")
                e["pred_promise"] = promise_of(a, r.get("started_at"))
            errors.append(e)
    det = prom["detected"]
    promise = {"gold": prom["gold"], "detected": det,
               **{k: prom[k] for k in ("amount_ok", "due_ok", "both_ok")},
               **{f"{k}_rate": (round(prom[k] / det, 4) if det else None)
                  for k in ("amount_ok", "due_ok", "both_ok")}}
    return {"n": len(rows), "labels": _per_label(counts),
            "n_outcome_rows": n_out, "outcomes": _per_label(ocounts), "promise": promise,
            "sentiment_accuracy": round(sent_ok / sent_total, 4) if sent_total else None,
            "sentiment_n": sent_total, "errors": errors}


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def cold_scores(path: Path, threshold: float | None = None) -> dict:
    """Abuse classifier on COLD dev (label 1 = offensive): accuracy, P/R/F1, AUC, at
    `threshold` (default: the one stored in the model file, chosen on validation; 0.5 if none)."""
    from analysis.abuse import model_proba
    from analysis.features import load_model

    ys, ps = [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            prob = model_proba(normalize(row["TEXT"]))
            if prob is None:
                return {"error": "abuse model missing"}
            ys.append(int(row["label"]))
            ps.append(prob)
    y, p = np.asarray(ys), np.asarray(ps)
    if threshold is None:
        threshold = load_model("abuse_cold_lr").threshold
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    pr, rc, f = prf(tp, fp, fn)
    return {"n": len(y), "threshold": threshold,
            "accuracy": round(float((pred == (y == 1)).mean()), 4),
            "precision": round(pr, 4), "recall": round(rc, 4), "f1": round(f, 4),
            "auc": round(_auc(y, p), 4)}


def call_summary(rows: list[dict]) -> list[str]:
    """One line per call: call-level findings of analyze_call on the call's turns."""
    from core.domain import Utterance

    from analysis.calls import analyze_call

    by_call: dict[str, list[dict]] = {}
    for r in rows:
        if "call_id" in r:
            by_call.setdefault(r["call_id"], []).append(r)
    lines = []
    for cid, turns in by_call.items():
        utts = [Utterance(speaker=t["role"], role=t["role"], start=t["start"], end=t["end"],
                          text=t["text"]) for t in turns]
        fs = analyze_call(utts)
        kinds = Counter(f.kind for f in fs if f.severity != "info")
        extra = [f"{f.rule_id}@{f.utterance_index}" for f in fs if f.rule_id.startswith("call.privacy")]
        miss = [f.evidence for f in fs if f.kind == "missing_steps"]
        lines.append(f"  {cid}: {dict(kinds)} {extra} {miss}")
    return lines


def _find_cold(inputs: list[Path]) -> Path | None:
    for p in inputs:
        for parent in [p, *p.resolve().parents][:4]:
            cand = parent / "text" / "COLD" / "dev.csv"
            if cand.exists():
                return cand
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--cold", type=Path, help="COLD dev.csv (default: found next to the inputs)")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--errors", action="store_true", help="print misclassified rows")
    args = ap.parse_args(argv)
    for path in args.inputs:
        rows = load_rows(path)
        res = evaluate_rows(rows)
        print(f"== {path} ({res['n']} utterances)")
        groups = []
        if res["n"] > res["n_outcome_rows"]:
            groups.append(res["labels"])
        if res["n_outcome_rows"]:
            groups.append(res["outcomes"])
        print(f"  {'label':24s} {'P':>6s} {'R':>6s} {'F1':>6s} {'gold':>5s} {'pred':>5s}")
        for group in groups:
            for lab, m in group.items():
                print(f"  {lab:24s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
                      f"{m['support']:5d} {m['predicted']:5d}")
        if res["n_outcome_rows"]:
            pm = res["promise"]
            rate = {k: ("-" if pm[f"{k}_rate"] is None else f"{pm[f'{k}_rate']:.3f}")
                    for k in ("amount_ok", "due_ok", "both_ok")}
            print(f"  promises: {pm['gold']} gold, {pm['detected']} detected; exact amount "
                  f"{pm['amount_ok']} ({rate['amount_ok']}), due {pm['due_ok']} ({rate['due_ok']}), "
                  f"both {pm['both_ok']} ({rate['both_ok']})")
        if res["sentiment_accuracy"] is not None:
            print(f"  sentiment accuracy: {res['sentiment_accuracy']:.3f} (n={res['sentiment_n']})")
        if any("call_id" in r for r in rows):
            print("  call-level findings (non-info kinds, call privacy rules, missing steps):")
            print("\n".join(call_summary(rows)))
        if args.errors:
            for e in res["errors"]:
                print("  ERR", json.dumps(e, ensure_ascii=False))
    if not args.no_cold:
        cold = args.cold or _find_cold(args.inputs)
        if cold and cold.exists():
            s = cold_scores(cold)
            print(f"== abuse classifier on COLD dev ({cold}):")
            print("  " + json.dumps(s))
        else:
            print("== COLD dev not found (use --cold PATH)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
