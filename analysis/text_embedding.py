"""Sentence embeddings from Whisper's text decoder (issue 15, abuse classifier round 6).

Whisper's decoder is a transformer language model trained on the transcripts of 680,000 hours
of speech, Chinese among them, and Whisper base ships with callqa: it is the one pretrained
text encoder available without a model hub. A text is tokenised by Whisper's tokenizer after
the prompt ``<|startoftranscript|><|zh|><|transcribe|><|notimestamps|>``, teacher-forced
through the decoder (re-implemented here in torch from the CTranslate2 ``model.bin``: the
decoder's hidden states are not exposed by CTranslate2), cross-attending to the encoder's
output for 30 s of silence (computed once with CTranslate2); the embedding is the mean over
the text's tokens of the final layer-normed hidden state and of the third layer's output
(``DIM`` = 1,024 values).

    emb = WhisperTextEmbedder(Path("models/whisper-base"))
    emb(["你们这些催收的", "谢谢您"])      # (2, 1024) float32
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from analysis.normalize import normalize

DIM = 1024
MAX_TOKENS = 96
MIDDLE_LAYER = 2  # 0-based: the third decoder layer's output is the second half of the embedding
# CTranslate2's DataType enum (include/ctranslate2/types.h); 5 is bfloat16
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_variables(path: Path, prefix: str = "") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (binary format version 6, as
    ``ctranslate2.specs.ModelSpec`` writes it) whose names start with ``prefix``, as float32
    arrays where they are floating point; aliases (e.g. a tied output projection) resolved."""
    buf = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        value = buf[pos:pos + n - 1].decode("utf-8")
        pos += n
        return value

    version = take("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version}, expected 6")
    string()  # spec name
    take("I")  # spec revision
    out: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype, nbytes = take("B"), take("I")
        if name.startswith(prefix):
            if dtype == 5:  # bfloat16: the high half of a float32
                raw = np.frombuffer(buf, np.uint16, nbytes // 2, pos).astype(np.uint32) << 16
                arr = raw.view(np.float32)
            else:
                arr = np.frombuffer(buf, _DTYPES[dtype], nbytes // np.dtype(_DTYPES[dtype]).itemsize, pos)
            arr = arr.reshape(shape)
            out[name] = arr.astype(np.float32) if arr.dtype.kind == "f" else arr.copy()
        pos += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        if alias.startswith(prefix) and target in out:
            out[alias] = out[target]
    return out


def bundled_whisper_base() -> Path:
    """The assembled bundled Whisper base folder; FileNotFoundError (one line saying what to run)
    if it is not there."""
    from core.files import bundled_whisper_dir

    folder = bundled_whisper_dir()
    if not (folder / "model.bin").is_file():
        raise FileNotFoundError(f"Whisper base is not assembled in {folder}: run `callqa models install`")
    return folder


class WhisperDecoder:
    """Whisper's text decoder (pre-norm, learned positions, tied output embedding) in torch,
    weights from a CTranslate2 Whisper ``model.bin``."""

    def __init__(self, model_bin: Path) -> None:
        import torch

        raw = read_ct2_variables(model_bin, "decoder/")
        self.w = {k: torch.from_numpy(v) for k, v in raw.items() if v.dtype == np.float32}
        self.n_layers = sum(1 for k in self.w if k.endswith("/self_attention/linear_1/bias"))
        self.n_heads = int(raw["decoder/num_heads"]) if "decoder/num_heads" in raw else 8
        if "decoder/layer_norm/gamma" not in self.w or not self.n_layers:
            raise ValueError(f"{model_bin}: not a CTranslate2 Whisper model")
        self.cross: list = []

    def _ln(self, x, p: str):
        import torch.nn.functional as F

        return F.layer_norm(x, (x.shape[-1],), self.w[p + "/gamma"], self.w[p + "/beta"], 1e-5)

    def _lin(self, x, p: str):
        import torch.nn.functional as F

        return F.linear(x, self.w[p + "/weight"], self.w[p + "/bias"])

    def _attend(self, q, k, v, mask=None):
        import torch.nn.functional as F

        b, t, d = q.shape
        split = lambda x: x.reshape(x.shape[0], x.shape[1], self.n_heads, d // self.n_heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        return out.transpose(1, 2).reshape(b, t, d)

    def set_audio(self, encoder_output) -> None:
        """Cross-attention keys and values of an encoder output (1, frames, d), per layer."""
        self.cross = [self._lin(encoder_output, f"decoder/layer_{i}/attention/linear_1").chunk(2, -1)
                      for i in range(self.n_layers)]

    def forward(self, ids, logits: bool = False):
        """ids (batch, tokens) -> (final layer-normed hidden, [each layer's output], logits or None)."""
        import torch
        import torch.nn.functional as F

        b, t = ids.shape
        x = self.w["decoder/embeddings/weight"][ids] + self.w["decoder/position_encodings/encodings"][:t]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        layers = []
        for i in range(self.n_layers):
            p = f"decoder/layer_{i}"
            q, k, v = self._lin(self._ln(x, p + "/self_attention/layer_norm"), p + "/self_attention/linear_0").chunk(3, -1)
            x = x + self._lin(self._attend(q, k, v, causal), p + "/self_attention/linear_1")
            q = self._lin(self._ln(x, p + "/attention/layer_norm"), p + "/attention/linear_0")
            ck, cv = self.cross[i]
            x = x + self._lin(self._attend(q, ck.expand(b, -1, -1), cv.expand(b, -1, -1)), p + "/attention/linear_2")
            y = self._ln(x, p + "/ffn/layer_norm")
            x = x + self._lin(F.gelu(self._lin(y, p + "/ffn/linear_0")), p + "/ffn/linear_1")
            layers.append(x)
        x = self._ln(x, "decoder/layer_norm")
        out = x @ self.w["decoder/embeddings/weight"].T if logits else None
        return x, layers, out


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
