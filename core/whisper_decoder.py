"""Whisper's text decoder in torch, from a CTranslate2 Whisper ``model.bin``.

CTranslate2 exposes neither the decoder's hidden states nor a hook into its beam search; both
the sentence embedding (analysis/text_embedding.py) and decoding with the collection language
model fused into the search (speech/lm_fusion.py) need them, so the decoder is re-implemented
here from the same weights: ``forward`` runs whole sequences (teacher forcing), ``prefill`` and
``step`` decode one token at a time with a key/value cache. torch is imported only when a
decoder is built.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

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
        self.int8: dict = {}    # linear layers quantized by ``quantize``, by weight prefix

    def quantize(self) -> bool:
        """Run the linear layers and the output projection with int8 weights (torch's dynamic
        quantization, as CTranslate2's ``int8`` compute type does); ~25x faster output
        projection on CPU. False, and float32 kept, where this torch has no dynamic quantization."""
        import warnings

        import torch

        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        except ImportError:
            return False
        heads = {k[:-len("/weight")] for k in self.w if k.endswith("/weight") and k != "decoder/embeddings/weight"
                 and k[:-len("/weight")] + "/bias" in self.w}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for prefix in sorted(heads) + ["decoder/embeddings"]:
                weight = self.w[prefix + "/weight"]
                lin = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=prefix != "decoder/embeddings")
                lin.weight.data = weight
                if lin.bias is not None:
                    lin.bias.data = self.w[prefix + "/bias"]
                self.int8[prefix] = quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear: per_channel_dynamic_qconfig})
        return True

    def _ln(self, x, p: str):
        import torch.nn.functional as F

        return F.layer_norm(x, (x.shape[-1],), self.w[p + "/gamma"], self.w[p + "/beta"], 1e-5)

    def _lin(self, x, p: str):
        import torch.nn.functional as F

        if p in self.int8:
            return self.int8[p](x)
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

    def _layer(self, x, i: int, mask, past=None):
        """One decoder layer on x (batch, t, d); ``past``: this layer's cached self-attention
        keys and values (batch, t0, d) before x. Returns (output, keys, values incl. past)."""
        import torch
        import torch.nn.functional as F

        b = x.shape[0]
        p = f"decoder/layer_{i}"
        q, k, v = self._lin(self._ln(x, p + "/self_attention/layer_norm"), p + "/self_attention/linear_0").chunk(3, -1)
        if past is not None:
            k, v = torch.cat([past[0], k], 1), torch.cat([past[1], v], 1)
        x = x + self._lin(self._attend(q, k, v, mask), p + "/self_attention/linear_1")
        q = self._lin(self._ln(x, p + "/attention/layer_norm"), p + "/attention/linear_0")
        ck, cv = self.cross[i]
        x = x + self._lin(self._attend(q, ck.expand(b, -1, -1), cv.expand(b, -1, -1)), p + "/attention/linear_2")
        y = self._ln(x, p + "/ffn/layer_norm")
        x = x + self._lin(F.gelu(self._lin(y, p + "/ffn/linear_0")), p + "/ffn/linear_1")
        return x, k, v

    def _embed(self, ids, offset: int = 0):
        t = ids.shape[1]
        return self.w["decoder/embeddings/weight"][ids] + self.w["decoder/position_encodings/encodings"][offset:offset + t]

    def _project(self, x):
        """Logits of final layer-normed hidden states (the tied output embedding)."""
        if "decoder/embeddings" in self.int8:
            return self.int8["decoder/embeddings"](x)
        return x @ self.w["decoder/embeddings/weight"].T

    @property
    def max_positions(self) -> int:
        return self.w["decoder/position_encodings/encodings"].shape[0]

    def _run(self, ids):
        """ids (batch, tokens) through every layer at once: (final layer-normed hidden, [each
        layer's output], [each layer's (keys, values)])."""
        import torch

        t = ids.shape[1]
        x = self._embed(ids)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        layers, cache = [], []
        for i in range(self.n_layers):
            x, k, v = self._layer(x, i, causal)
            layers.append(x)
            cache.append((k, v))
        return self._ln(x, "decoder/layer_norm"), layers, cache

    def forward(self, ids, logits: bool = False):
        """ids (batch, tokens) -> (final layer-normed hidden, [each layer's output], logits or None)."""
        x, layers, _ = self._run(ids)
        return x, layers, self._project(x) if logits else None

    def prefill(self, ids):
        """Decode a prompt ids (1, tokens) at once: (logits at every position (1, tokens, vocab),
        the key/value cache to go on from with ``step``)."""
        x, _, cache = self._run(ids)
        return self._project(x), cache

    def step(self, ids, cache):
        """One token per sequence, ids (batch,), after ``cache`` (per layer (keys, values), each
        (batch, t0, d)): (logits (batch, vocab), the cache with this token)."""
        x = self._embed(ids[:, None], cache[0][0].shape[1])
        out = []
        for i in range(self.n_layers):
            x, k, v = self._layer(x, i, None, cache[i])
            out.append((k, v))
        return self._project(self._ln(x, "decoder/layer_norm"))[:, 0], out
