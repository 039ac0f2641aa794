"""Shallow fusion of the collection language model into Whisper's beam search (issue 15, ASR
round 8): the byte-level token pieces, the language model's view of a reading, the timestamp
rules, the search against CTranslate2's own on a real clip, and the settings that turn it on."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.char_lm import CharLM, count_ngrams, lm_text
from speech.lm_fusion import LMState, SearchOptions, _bytes_to_unicode, apply_timestamp_rules, lm_extend
from tests.helpers.audio import load_clip


@pytest.fixture(scope="module")
def lm() -> CharLM:
    texts = ["请问您什么时候还款", "您的信用卡已经逾期", "逾期#天", "我月底还款"]
    return CharLM.from_counts(*count_ngrams([lm_text(t) for t in texts]))


def test_byte_alphabet_is_a_bijection_over_256_bytes():
    table = _bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ"


def test_lm_extend_scores_whole_characters_across_token_pieces(lm):
    text = "还款".encode()
    whole, n_whole, s_whole = lm_extend(lm, LMState(), text)
    # the same bytes cut inside a character: nothing is scored until the character completes
    first, n1, s1 = lm_extend(lm, LMState(), text[:2])
    assert (first, n1, s1.pending) == (0.0, 0, text[:2])
    rest, n2, s2 = lm_extend(lm, s1, text[2:])
    assert n_whole == n1 + n2 == 2 and math.isclose(first + rest, whole) and s2 == s_whole
    assert whole == pytest.approx(lm.logprob("还款", ends=False))


def test_lm_extend_numbers_punctuation_and_traditional(lm):
    # a run of numerals is one "#": the second digit costs nothing
    one, n1, st = lm_extend(lm, LMState("期天"), "4".encode())
    two, n2, st2 = lm_extend(lm, st, "5".encode())
    assert n1 == n2 == 1 and one < 0 and two == 0.0 and st2.context.endswith("#")
    # punctuation ends a stretch: the next character is scored as a stretch's first
    _, n, st = lm_extend(lm, LMState("还款"), "，".encode())
    assert n == 0 and st.context == "^^"
    # Traditional characters are read as their Simplified forms
    trad, _, _ = lm_extend(lm, LMState(), "還款".encode())
    assert trad == pytest.approx(lm_extend(lm, LMState(), "还款".encode())[0])


def _opts(**kw) -> SearchOptions:
    base = dict(beam_size=2, patience=1.0, max_new_tokens=10, suppress=(), suppress_blank=(),
                timestamp_begin=10, eot=8, no_timestamps=9, max_initial_timestamp_index=2,
                timestamps=True, weight=0.0, bonus=0.0)
    return SearchOptions(**{**base, **kw})


def test_timestamp_rules():
    import torch

    opts = _opts()
    logits = torch.zeros(4, 20)
    logits[:, :9] = 5.0                                # text likelier than the timestamps
    seqs = [[], [10, 3], [10, 3, 12], [10, 3, 12, 12]]
    lp = apply_timestamp_rules(logits, seqs, opts)
    allowed = [set(torch.nonzero(row > -math.inf).flatten().tolist()) for row in lp]
    assert allowed[0] == {10, 11, 12}                 # first token: a timestamp no later than index 2
    assert 9 not in set().union(*allowed)            # never <|notimestamps|>
    # after text: text, end of text or a timestamp not before the last one (10 -> 11 on)
    assert allowed[1] == set(range(0, 9)) | set(range(11, 20))
    assert allowed[2] == {8} | set(range(12, 20))      # a lone timestamp: its pair (>= it) or end of text
    assert allowed[3] == set(range(0, 9))            # a closed pair: text or end of text
    # the timestamps together likelier than any text token: text is barred
    logits = torch.zeros(1, 20)
    logits[0, 10:] = 3.0
    lp = apply_timestamp_rules(logits, [[10, 3]], opts)
    assert torch.all(lp[0, :8] == -math.inf) and torch.isfinite(lp[0, 11]).item()


def test_fusion_settings_are_checked():
    from core.settings import AsrSettings

    assert AsrSettings().fusion_weight == 0.0    # off unless asked
    with pytest.raises(ValueError, match="asr.fusion_weight must be >= 0"):
        AsrSettings(fusion_weight=-1)
    with pytest.raises(ValueError, match="needs asr.repetition_penalty 1"):
        AsrSettings(fusion_weight=0.3, repetition_penalty=1.2)
    with pytest.raises(ValueError, match='needs asr.device "cpu"'):
        AsrSettings(fusion_weight=0.3, device="cuda")


@pytest.fixture(scope="module")
def float32_model():
    from faster_whisper import WhisperModel

    from speech.whisper_models import assemble_bundled

    folder = assemble_bundled()
    return folder, WhisperModel(str(folder), device="cpu", compute_type="float32", cpu_threads=2)


@pytest.mark.slow  # the real Whisper model
@pytest.mark.parametrize("beam", [2, 5])
def test_weight_zero_search_is_ctranslate2s_on_a_real_clip(test_data, float32_model, beam):
    """Float32 weights on both sides, fusion weight 0: the same tokens, score and no-speech
    probability as CTranslate2's beam search on an AISHELL clip, with faster-whisper's options."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    from core.char_lm import load_lm
    from core.whisper_decoder import WhisperDecoder
    from speech.lm_fusion import FusionWhisper

    folder, model = float32_model
    audio = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    feats = model.feature_extractor(audio)[:, :3000]
    feats = np.pad(feats, ((0, 0), (0, 3000 - feats.shape[1])))[None].astype(np.float32)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=True)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    prompt = list(tokenizer.sot_sequence)
    kwargs = dict(beam_size=beam, patience=1.0, length_penalty=1.0, max_length=448, return_scores=True,
                  return_no_speech_prob=True, suppress_blank=True,
                  suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])), max_initial_timestamp_index=50)
    theirs = model.model.generate(encoded, [prompt], **kwargs)[0]
    fused = FusionWhisper(model.model, WhisperDecoder(folder / "model.bin"), model.hf_tokenizer,
                          load_lm("speech/data/collection_lm.json.gz"), 0.0, 0.0)
    ours = fused.generate(encoded, [prompt], **kwargs)[0]
    assert len(theirs.sequences_ids[0]) >= 10
    assert ours.sequences_ids[0] == theirs.sequences_ids[0]
    assert ours.scores[0] == pytest.approx(theirs.scores[0], abs=1e-4)
    assert ours.no_speech_prob == pytest.approx(theirs.no_speech_prob, abs=1e-4)
    # features instead of the encoder's output are encoded first; sampling goes to CTranslate2
    again = fused.generate(ctranslate2.StorageView.from_array(feats), [prompt], **kwargs)[0]
    assert again.sequences_ids[0] == theirs.sequences_ids[0]


@pytest.mark.slow  # the real Whisper model
def test_fused_transcriber_on_a_real_clip(test_data):
    """The pipeline's Transcriber with fusion on (int8 decoder): real words, in time order,
    Simplified, and the n-best re-ranking replaced."""
    from core.settings import AsrSettings
    from speech.asr import Transcriber
    from speech.lm_fusion import FusionWhisper

    t = Transcriber(AsrSettings(fusion_weight=0.3, fusion_bonus=0.9))
    assert isinstance(t.model.model, FusionWhisper)
    words = t.transcribe(load_clip(test_data / "audio" / "BAC009S0764W0121.wav"))
    text = "".join(w.text for w in words)
    assert len(text) >= 10 and all(a.start <= b.start for a, b in zip(words, words[1:]))
