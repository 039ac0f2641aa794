"""End-to-end accuracy on scripted calls with ground truth: CER, roles, labels, call findings.

usage: .venv/bin/python bench/calls_e2e.py [CALLS_DIR ...] [--audio stereo|mono]

Each CALLS_DIR holds <id>.json ground truth (turns with role, text, labels, start, end) beside
the audio it names (default ../shared/data/calls and tests/data/calls_outcomes). Each call runs
through flows.recording.process_recording (real ASR, roles, detectors; the call's start and
timezone from its ground truth, so promise dates resolve). Printed: CER per call (all turns vs
all utterances, punctuation ignored), role accuracy (share of reference speech time whose
utterance has the reference role), and per-label precision/recall/F1 where a reference turn's
label counts as found when an utterance overlapping it in time carries it.

Call outcomes are scored on the calls whose ground truth carries them (a `disposition` key:
tests/data/calls_outcomes): outcome-label P/R/F1 the same way, the disposition, and for each
reference promise (a turn's `promise`: amount, due) whether an overlapping promise_to_pay
finding has exactly that amount, due date, and both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LABELS = ("abuse", "threat", "privacy", "pii", "self_harm", "identity_disclosure", "identity_verification",
          "purpose_disclosure", "repayment_options")
OUTCOMES = ("promise_to_pay", "refusal_to_pay", "dispute", "hardship", "cease_contact", "complaint_threat",
            "wrong_party")


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="*", default=[str(REPO.parent / "shared" / "data" / "calls"),
                                                 str(REPO / "tests" / "data" / "calls_outcomes")])
    ap.add_argument("--audio", choices=("stereo", "mono"), default="stereo")
    args = ap.parse_args()

    from datetime import datetime

    from core.settings import load_settings
    from core.domain import Call
    from flows.recording import process_recording
    from speech.text import character_error_rate as cer

    cfg = load_settings(environ={})
    tp = {k: 0 for k in LABELS + OUTCOMES}
    fp = dict(tp)
    fn = dict(tp)
    disp_ok = disp_n = 0
    promise = {"n": 0, "found": 0, "amount": 0, "due": 0, "both": 0}
    errs = chars = 0
    role_ok = role_total = 0.0
    print(f"{'call':12s} {'CER':>6s} {'roles':>6s}  call-level findings")
    paths = sorted(p for d in args.calls for p in Path(d).glob("*.json"))
    for truth_path in paths:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if "turns" not in truth or args.audio not in truth.get("audio", {}):
            continue
        audio = truth_path.parent / truth["audio"][args.audio]
        started = datetime.fromisoformat(truth["started_at"]) if truth.get("started_at") else None
        result = process_recording(Call(call_id=truth["call_id"], path=str(audio), channel_roles=None,
                                        started_at=started, timezone=truth.get("timezone")), cfg)
        utts = result.utterances
        scored = LABELS + (OUTCOMES if "disposition" in truth else ())
        e, n = cer("".join(t["text"] for t in truth["turns"]), "".join(u.text for u in utts))
        errs, chars = errs + e, chars + n
        ok = tot = 0.0
        for t in truth["turns"]:
            for u in utts:
                ov = overlap(t["start"], t["end"], u.start, u.end)
                tot += ov
                ok += ov if u.role == t["role"] else 0.0
            found = {lab for u in utts if overlap(t["start"], t["end"], u.start, u.end) > 0.3 for lab in u.labels}
            for lab in scored:
                ref = lab in t["labels"]
                hyp = lab in found
                tp[lab] += ref and hyp
                fn[lab] += ref and not hyp
        for u in utts:  # labels on utterances that overlap no reference turn with that label
            for lab in u.labels:
                if lab in scored and not any(lab in t["labels"] and overlap(t["start"], t["end"], u.start, u.end) > 0.3
                                             for t in truth["turns"]):
                    fp[lab] += 1
        role_ok, role_total = role_ok + ok, role_total + tot
        if "disposition" in truth:
            disp_n += 1
            disp_ok += result.disposition == truth["disposition"]
            for t in truth["turns"]:
                if t.get("promise"):
                    promise["n"] += 1
                    hits = [f for f in result.findings if f.kind == "promise_to_pay"
                            and overlap(t["start"], t["end"], f.start, f.end) > 0.3]
                    promise["found"] += bool(hits)
                    amount = any(f.amount == t["promise"]["amount"] for f in hits)
                    due = any(f.due == t["promise"]["due"] for f in hits)
                    promise["amount"] += amount
                    promise["due"] += due
                    promise["both"] += any(f.amount == t["promise"]["amount"] and f.due == t["promise"]["due"]
                                           for f in hits)
        calls = sorted({f"{f.kind}:{f.role}" for f in result.findings if f.severity != "info"})
        disp = f" [{result.disposition}]"
        print(f"{truth['call_id']:12s} {e / max(n, 1):6.1%} {ok / max(tot, 1e-9):6.1%}  {', '.join(calls)}{disp}")
    print(f"\noverall CER {errs / max(chars, 1):.1%}, role accuracy (by reference speech time) {role_ok / max(role_total, 1e-9):.1%}")
    print(f"{'label':22s} {'P':>5s} {'R':>5s} {'F1':>5s} {'n':>3s}")
    for lab in LABELS + (OUTCOMES if disp_n else ()):
        p = tp[lab] / max(tp[lab] + fp[lab], 1)
        r = tp[lab] / max(tp[lab] + fn[lab], 1)
        f = 2 * p * r / max(p + r, 1e-9)
        print(f"{lab:22s} {p:5.2f} {r:5.2f} {f:5.2f} {tp[lab] + fn[lab]:3d}")
    if disp_n:
        otp, ofp, ofn = (sum(d[k] for k in OUTCOMES) for d in (tp, fp, fn))
        f1 = 2 * otp / max(2 * otp + ofp + ofn, 1)
        print(f"outcome labels (micro) F1 {f1:.2f} on {disp_n} call(s); disposition right {disp_ok}/{disp_n}")
        n = max(promise["n"], 1)
        print(f"promises: {promise['found']}/{promise['n']} detected; amount exact {promise['amount']}/{promise['n']},"
              f" due exact {promise['due']}/{promise['n']}, both {promise['both']}/{promise['n']} ({promise['both'] / n:.0%})")


if __name__ == "__main__":
    main()
