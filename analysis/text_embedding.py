"""Sentence embeddings from Whisper's text decoder (issue 15, abuse classifier round 6).

Whisper's decoder is a transformer language model trained on the transcripts of 680,000 hours
of speech, Chinese among them, and Whisper base ships with callqa: it is the one pretrained
text encoder available without a model hub. A text is tokenised by Whisper's tokenizer after
the prompt ``<|startoftranscript|><|zh|><|transcribe|><|notimestamps|>``, teacher-forced
through the decoder (re-implemented in torch from the CTranslate2 ``model.bin`` in
core/whisper_decoder.py: the decoder's hidden states are not exposed by CTranslate2), cross-attending to the encoder's
output for 30 s of silence (computed once with CTranslate2); the embedding is the mean over
the text's tokens of the final layer-normed hidden state and of the third layer's output
(``DIM`` = 1,024 values).

    emb = WhisperTextEmbedder(Path("models/whisper-base"))
    emb(["你们这些催收的", "谢谢您"])      # (2, 1024) float32
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.normalize import normalize
from core.whisper_decoder import WhisperDecoder

DIM = 1024
MAX_TOKENS = 96
MIDDLE_LAYER = 2  # 0-based: the third decoder layer's output is the second half of the embedding


def bundled_whisper_base() -> Path:
    """The assembled bundled Whisper base folder; FileNotFoundError (one line saying what to run)
    if it is not there."""
    from core.files import bundled_whisper_dir

    folder = bundled_whisper_dir()
    if not (folder / "model.bin").is_file():
        raise FileNotFoundError(f"Whisper base is not assembled in {folder}: run `callqa models install`")
    return folder


class WhisperTextEmbedder:
    """Text -> ``DIM`` floats from a CTranslate2 Whisper folder's decoder (see the module doc)."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        import ctranslate2
        import torch
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        torch.set_num_threads(threads)
        model = WhisperModel(str(model_dir), device="cpu", compute_type="float32", cpu_threads=threads)
        silence = model.feature_extractor(np.zeros(16000 * 30, np.float32))[:, :3000]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(silence[None].astype(np.float32)),
                                     to_cpu=True)
        self.tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
        self.prompt = list(self.tokenizer.sot_sequence) + [self.tokenizer.no_timestamps]
        self.decoder = WhisperDecoder(Path(model_dir) / "model.bin")
        self.silence = torch.from_numpy(np.array(encoded))  # (1, 1500, d): the encoder on 30 s of silence
        self.decoder.set_audio(self.silence)

    def tokens(self, text: str) -> list[int]:
        """The text's Whisper tokens (normalised as utterances are; at most MAX_TOKENS)."""
        return self.tokenizer.encode(normalize(text))[:MAX_TOKENS]

    def __call__(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        ids = [self.tokens(t) for t in texts]
        out = np.zeros((len(texts), DIM), np.float32)
        n = len(self.prompt)
        order = np.argsort([len(i) for i in ids], kind="stable")  # batches of similar length
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                rows = order[start:start + batch_size]
                width = max(len(ids[r]) for r in rows)
                if not width:
                    continue  # empty texts embed as zeros
                batch = torch.full((len(rows), n + width), self.tokenizer.eot, dtype=torch.long)
                weight = torch.zeros(len(rows), n + width, 1)
                for j, r in enumerate(rows):
                    batch[j, :n] = torch.tensor(self.prompt)
                    if ids[r]:
                        batch[j, n:n + len(ids[r])] = torch.tensor(ids[r])
                        weight[j, n:n + len(ids[r])] = 1.0 / len(ids[r])
                final, layers, _ = self.decoder.forward(batch)
                out[rows, :DIM // 2] = (final * weight).sum(1).numpy()
                out[rows, DIM // 2:] = (layers[MIDDLE_LAYER] * weight).sum(1).numpy()
        return out
