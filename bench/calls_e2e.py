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


DEFAULT_CALLS = [str(REPO.parent / "shared" / "data" / "calls"), str(REPO / "tests" / "data" / "calls_outcomes")]


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def truth_files(dirs: list[str], audio: str) -> list[tuple[dict, Path]]:
    """(ground truth, recording) of every call in ``dirs`` that has ``audio`` (stereo/mono)."""
    out = []
    for truth_path in sorted(p for d in dirs for p in Path(d).glob("*.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if "turns" in truth and audio in truth.get("audio", {}):
            out.append((truth, truth_path.parent / truth["audio"][audio]))
    return out


def call_of(truth: dict, audio: Path):
    """The Call to process for one ground truth (its start and timezone, no manifest)."""
    from datetime import datetime

    from core.domain import Call

    started = datetime.fromisoformat(truth["started_at"]) if truth.get("started_at") else None
    return Call(call_id=truth["call_id"], path=str(audio), channel_roles=None, started_at=started,
                timezone=truth.get("timezone"))


SCORING = {"warehouse.store_raw_text": True}   # CER is scored on the unredacted text


class Tally:
    """CER, role accuracy, label and outcome counts over the calls added."""

    def __init__(self) -> None:
        self.tp = {k: 0 for k in LABELS + OUTCOMES}
        self.fp = dict(self.tp)
        self.fn = dict(self.tp)
        self.disp_ok = self.disp_n = 0
        self.promise = {"n": 0, "found": 0, "amount": 0, "due": 0, "both": 0}
        self.errs = self.chars = 0
        self.role_ok = self.role_total = 0.0

    def add(self, truth: dict, result) -> tuple[int, int, float]:
        """Count one processed call against its ground truth; returns (edits, reference
        characters, role accuracy) of the call. CER: all turns vs all utterances, punctuation
        ignored."""
        from speech.text import character_error_rate as cer

        tp, fp, fn = self.tp, self.fp, self.fn
        utts = result.utterances
        scored = LABELS + (OUTCOMES if "disposition" in truth else ())
        # what Whisper wrote, before redaction masks names and numbers (the pipeline keeps it only
        # with warehouse.store_raw_text: SCORING turns it on)
        said = result.raw_texts if result.raw_texts is not None else [u.text for u in utts]
        e, n = cer("".join(t["text"] for t in truth["turns"]), "".join(said))
        self.errs, self.chars = self.errs + e, self.chars + n
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
        self.role_ok, self.role_total = self.role_ok + ok, self.role_total + tot
        if "disposition" in truth:
            promise = self.promise
            self.disp_n += 1
            self.disp_ok += result.disposition == truth["disposition"]
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
        return e, n, ok / max(tot, 1e-9)

    def cer(self) -> float:
        return self.errs / max(self.chars, 1)

    def print_summary(self) -> None:
        tp, fp, fn = self.tp, self.fp, self.fn
        print(f"\noverall CER {self.cer():.1%}, role accuracy (by reference speech time)"
              f" {self.role_ok / max(self.role_total, 1e-9):.1%}")
        print(f"{'label':22s} {'P':>5s} {'R':>5s} {'F1':>5s} {'n':>3s}")
        for lab in LABELS + (OUTCOMES if self.disp_n else ()):
            p = tp[lab] / max(tp[lab] + fp[lab], 1)
            r = tp[lab] / max(tp[lab] + fn[lab], 1)
            f = 2 * p * r / max(p + r, 1e-9)
            print(f"{lab:22s} {p:5.2f} {r:5.2f} {f:5.2f} {tp[lab] + fn[lab]:3d}")
        if self.disp_n:
            promise = self.promise
            otp, ofp, ofn = (sum(d[k] for k in OUTCOMES) for d in (tp, fp, fn))
            f1 = 2 * otp / max(2 * otp + ofp + ofn, 1)
            print(f"outcome labels (micro) F1 {f1:.2f} on {self.disp_n} call(s); disposition right {self.disp_ok}/{self.disp_n}")
            n = max(promise["n"], 1)
            print(f"promises: {promise['found']}/{promise['n']} detected; amount exact {promise['amount']}/{promise['n']},"
                  f" due exact {promise['due']}/{promise['n']}, both {promise['both']}/{promise['n']} ({promise['both'] / n:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="*", default=DEFAULT_CALLS)
    ap.add_argument("--audio", choices=("stereo", "mono"), default="stereo")
    args = ap.parse_args()

    from core.settings import load_settings
    from flows.recording import process_recording

    cfg = load_settings(environ={}).with_overrides(SCORING)
    tally = Tally()
    print(f"{'call':12s} {'CER':>6s} {'roles':>6s}  call-level findings")
    for truth, audio in truth_files(args.calls, args.audio):
        result = process_recording(call_of(truth, audio), cfg)
        e, n, roles = tally.add(truth, result)
        calls = sorted({f"{f.kind}:{f.role}" for f in result.findings if f.severity != "info"})
        disp = f" [{result.disposition}]"
        print(f"{truth['call_id']:12s} {e / max(n, 1):6.1%} {roles:6.1%}  {', '.join(calls)}{disp}")
    tally.print_summary()


if __name__ == "__main__":
    main()
