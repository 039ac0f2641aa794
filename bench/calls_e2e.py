"""End-to-end accuracy on scripted calls with ground truth: CER, roles, labels, call findings.

usage: .venv/bin/python bench/calls_e2e.py [CALLS_DIR] [--audio stereo|mono]

CALLS_DIR holds <id>.json ground truth (turns with role, text, labels, start, end) beside
<id>.stereo.wav / <id>.mono.wav (default ../shared/data/calls). Each call runs through
flows.recording.process_recording (real ASR, roles, detectors). Printed: CER per call (all
turns vs all utterances, punctuation ignored), role accuracy (share of reference speech time
whose utterance has the reference role), and per-label precision/recall/F1 where a reference
turn's label counts as found when an utterance overlapping it in time carries it.
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


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calls", nargs="?", default=str(REPO.parent / "shared" / "data" / "calls"))
    ap.add_argument("--audio", choices=("stereo", "mono"), default="stereo")
    args = ap.parse_args()

    from core.settings import load_settings
    from core.domain import Call
    from flows.recording import process_recording
    from speech.text import character_error_rate as cer

    cfg = load_settings(environ={})
    tp = {k: 0 for k in LABELS}
    fp = dict(tp)
    fn = dict(tp)
    errs = chars = 0
    role_ok = role_total = 0.0
    print(f"{'call':12s} {'CER':>6s} {'roles':>6s}  call-level findings")
    for truth_path in sorted(Path(args.calls).glob("*.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        if "turns" not in truth:
            continue
        audio = truth_path.parent / truth["audio"][args.audio]
        result = process_recording(Call(call_id=truth["call_id"], path=str(audio), channel_roles=None), cfg)
        utts = result.utterances
        e, n = cer("".join(t["text"] for t in truth["turns"]), "".join(u.text for u in utts))
        errs, chars = errs + e, chars + n
        ok = tot = 0.0
        for t in truth["turns"]:
            for u in utts:
                ov = overlap(t["start"], t["end"], u.start, u.end)
                tot += ov
                ok += ov if u.role == t["role"] else 0.0
            found = {lab for u in utts if overlap(t["start"], t["end"], u.start, u.end) > 0.3 for lab in u.labels}
            for lab in LABELS:
                ref = lab in t["labels"]
                hyp = lab in found
                tp[lab] += ref and hyp
                fn[lab] += ref and not hyp
        for u in utts:  # labels on utterances that overlap no reference turn with that label
            for lab in u.labels:
                if lab in LABELS and not any(lab in t["labels"] and overlap(t["start"], t["end"], u.start, u.end) > 0.3
                                             for t in truth["turns"]):
                    fp[lab] += 1
        role_ok, role_total = role_ok + ok, role_total + tot
        calls = sorted({f"{f.kind}:{f.role}" for f in result.findings if f.severity != "info"})
        print(f"{truth['call_id']:12s} {e / max(n, 1):6.1%} {ok / max(tot, 1e-9):6.1%}  {', '.join(calls)}")
    print(f"\noverall CER {errs / max(chars, 1):.1%}, role accuracy (by reference speech time) {role_ok / max(role_total, 1e-9):.1%}")
    print(f"{'label':22s} {'P':>5s} {'R':>5s} {'F1':>5s} {'n':>3s}")
    for lab in LABELS:
        p = tp[lab] / max(tp[lab] + fp[lab], 1)
        r = tp[lab] / max(tp[lab] + fn[lab], 1)
        f = 2 * p * r / max(p + r, 1e-9)
        print(f"{lab:22s} {p:5.2f} {r:5.2f} {f:5.2f} {tp[lab] + fn[lab]:3d}")


if __name__ == "__main__":
    main()
