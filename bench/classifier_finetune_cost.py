"""What fine-tuning Whisper base's text decoder as the abuse classifier would cost on this CPU.

usage: .venv/bin/python bench/classifier_finetune_cost.py [--steps 3] [--batch 32] [--tokens 50] [--threads 2]

Issue 15, after classifier round 6 (analysis/README.md): the decoder's frozen embedding adds
< 0.01 F1 on validation; the next step would be to train the decoder itself on COLD. This times
real training steps (forward + backward + AdamW over all decoder weights and a linear head,
cross-attention to the encoder's output for 30 s of silence recomputed each step, as it must be
when its weights train) on COLD-length texts, and prints the cost of one epoch over COLD train +
extras and of one candidate under round 4's validation (23 cluster folds + 6 leave-one-topic-out
fits). Prints figures only; needs Whisper base assembled (`callqa models install`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TRAIN_TEXTS = 33_189   # COLD train + lexicon insults + helpdesk turns + reviews (eval_splits cold_dev n_train)
FITS_PER_CANDIDATE = 29  # eval_splits --validate-clusters: 23 cluster folds + 6 leave-one-topic-out fits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=50, help="text tokens a row (COLD: ~48 on average)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    for name in ("steps", "batch", "tokens", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")

    import torch

    from analysis.text_embedding import WhisperTextEmbedder, bundled_whisper_base

    try:
        folder = bundled_whisper_base()
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    emb = WhisperTextEmbedder(folder, threads=args.threads)
    dec = emb.decoder
    weights = list(dec.w.values())
    for w in weights:
        w.requires_grad_(True)
    head = torch.zeros(dec.w["decoder/layer_norm/gamma"].shape[0], requires_grad=True)
    opt = torch.optim.AdamW(weights + [head], lr=1e-5)
    text = emb.tokens("你们这些人就知道骗钱 一点良心都没有 " * 8)[:args.tokens]
    batch = torch.tensor([emb.prompt + text] * args.batch)
    labels = torch.ones(args.batch)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        dec.set_audio(emb.silence)
        final, _, _ = dec.forward(batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(final[:, len(emb.prompt):].mean(1) @ head, labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    step = sorted(times)[len(times) // 2]
    per_text = step / args.batch
    epoch_h = per_text * TRAIN_TEXTS / 3600
    print(f"training step: {step:.2f} s for {args.batch} texts of {len(text)} tokens "
          f"({per_text * 1000:.0f} ms a text; {args.threads} threads; steps {', '.join(f'{t:.2f}' for t in times)})")
    print(f"one epoch over {TRAIN_TEXTS:,} training texts: {epoch_h:.2f} h")
    print(f"one candidate under --validate-clusters ({FITS_PER_CANDIDATE} fits, 1-3 epochs each): "
          f"{FITS_PER_CANDIDATE * epoch_h:.0f}-{3 * FITS_PER_CANDIDATE * epoch_h:.0f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
