"""Whisper base's text decoder as a sentence embedding (issue 15, classifier round 6): the
CTranslate2 weights read back, the re-implemented decoder against CTranslate2's own decoding of a
real clip, and the embedding's shape, determinism and batch independence."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from analysis.text_embedding import DIM
from core.whisper_decoder import read_ct2_variables
from tests.helpers.audio import load_clip


@pytest.fixture(scope="module")
def whisper_dir():
    from speech.whisper_models import assemble_bundled

    return assemble_bundled()


@pytest.fixture(scope="module")
def embedder(whisper_dir):
    from analysis.text_embedding import WhisperTextEmbedder

    return WhisperTextEmbedder(whisper_dir)


def _write_ct2(path, version: int, variables: dict, aliases: dict = {}) -> None:
    def string(s):
        return struct.pack("H", len(s) + 1) + s.encode() + b"\0"

    out = struct.pack("I", version) + string("TestSpec") + struct.pack("I", 1)
    out += struct.pack("I", len(variables))
    for name, arr in variables.items():
        type_id = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.float16): 4}[arr.dtype]
        out += string(name) + struct.pack("B", arr.ndim) + b"".join(struct.pack("I", d) for d in arr.shape)
        out += struct.pack("B", type_id) + struct.pack("I", arr.nbytes) + arr.tobytes()
    out += struct.pack("I", len(aliases)) + b"".join(string(a) + string(t) for a, t in aliases.items())
    path.write_bytes(out)


def test_ct2_reader_reads_shapes_types_prefixes_and_aliases(tmp_path):
    w = np.arange(6, dtype=np.float16).reshape(2, 3)
    path = tmp_path / "model.bin"
    _write_ct2(path, 6, {"decoder/a": w, "decoder/flag": np.array(1, np.int8),
                         "encoder/b": np.ones(4, np.float32)}, {"decoder/tied": "decoder/a"})
    got = read_ct2_variables(path, "decoder/")
    assert set(got) == {"decoder/a", "decoder/flag", "decoder/tied"}
    assert got["decoder/a"].dtype == np.float32 and got["decoder/a"].tolist() == w.astype(np.float32).tolist()
    assert got["decoder/tied"] is got["decoder/a"] and got["decoder/flag"] == 1
    assert set(read_ct2_variables(path)) == {"decoder/a", "decoder/flag", "encoder/b", "decoder/tied"}
    _write_ct2(path, 5, {"decoder/a": w})
    with pytest.raises(ValueError, match="binary version 5"):
        read_ct2_variables(path)


@pytest.mark.slow  # the real Whisper model
def test_bundled_decoder_weights(whisper_dir):
    v = read_ct2_variables(whisper_dir / "model.bin", "decoder/")
    assert v["decoder/embeddings/weight"].shape == (51865, 512)
    assert v["decoder/projection/weight"] is v["decoder/embeddings/weight"]  # tied
    assert sum(k.endswith("/ffn/linear_0/weight") for k in v) == 6


@pytest.mark.slow  # the real Whisper model
def test_decoder_predicts_what_ctranslate2_decodes_on_a_real_clip(test_data, whisper_dir, embedder):
    """Teacher-forced on CTranslate2's greedy transcript of an AISHELL clip (its own encoder
    output), the torch decoder's argmax is every one of the transcript's tokens."""
    import ctranslate2
    import torch
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_dir), device="cpu", compute_type="float32")
    audio = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    feats = model.feature_extractor(audio)[:, :3000]
    feats = np.pad(feats, ((0, 0), (0, 3000 - feats.shape[1])))[None].astype(np.float32)
    sv = ctranslate2.StorageView.from_array(feats)
    prompt = embedder.prompt
    seq = model.model.generate(sv, [prompt], beam_size=1, max_length=100)[0].sequences_ids[0]
    assert len(seq) >= 10
    decoder = embedder.decoder.__class__(whisper_dir / "model.bin")
    decoder.set_audio(torch.from_numpy(np.array(model.model.encode(sv, to_cpu=True))))
    _, layers, logits = decoder.forward(torch.tensor([prompt + seq]), logits=True)
    assert len(layers) == 6
    assert logits[0, len(prompt) - 1:-1].argmax(-1).tolist() == seq


@pytest.mark.slow  # the real Whisper model
def test_embedding_shape_determinism_and_batch_independence(embedder):
    texts = ["你们这些催收的都是骗子", "谢谢您 我明天就还款", "", "今天天气很好",
             "河南人都是骗子 我身边好几个例子"]
    E = embedder(texts)
    assert E.shape == (5, DIM) and E.dtype == np.float32
    assert not E[2].any()  # no tokens: zeros
    assert np.all(np.isfinite(E)) and np.abs(E[[0, 1, 3, 4]]).sum(1).min() > 0
    np.testing.assert_array_equal(E, embedder(texts))
    alone = np.stack([embedder([t])[0] for t in texts])  # padding in a batch changes nothing
    np.testing.assert_allclose(alone, E, rtol=1e-5, atol=1e-4)
    # the text is normalised as utterances are (full-width and ASCII punctuation alike)
    np.testing.assert_allclose(embedder(["谢谢您，我明天就还款。"]), embedder(["谢谢您,我明天就还款."]),
                               atol=1e-5)


def test_finetune_cost_bench_without_whisper_base_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from bench.classifier_finetune_cost import main

    monkeypatch.setenv("CALLQA_MODELS_DIR", str(tmp_path))
    assert main(["--steps", "1"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("error: Whisper base is not assembled")
    for flag in ("--steps", "--batch", "--tokens", "--threads"):
        with pytest.raises(SystemExit) as exit_:
            main([flag, "0"])
        assert exit_.value.code == 2 and f"{flag} must be at least 1" in capsys.readouterr().err
