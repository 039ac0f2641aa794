"""ASR homophone correction (single characters): which characters may stand for which, what
changes and what stays, margins, word timings, settings, and real Whisper output."""
import numpy as np
import pytest

from core.domain import Word
from core.settings import AsrSettings, load_settings
from speech.asr import homophone_corrector
from speech.homophone_correction import HomophoneCorrector, all_readings
from speech.term_correction import RUN_GAP_S


@pytest.fixture(scope="module")
def homophones():
    return homophone_corrector(AsrSettings())


def test_candidates_sound_alike_and_skip_numbers_pronouns_and_punctuation(homophones):
    assert "huan" in all_readings("还") and "hai" in all_readings("还")
    assert {"还", "孩", "害"} <= homophones.sounds_like("海") and "海" not in homophones.sounds_like("海")
    assert "烦" in homophones.sounds_like("反") and "士" in homophones.sounds_like("是")
    for char in ("他", "她", "它", "5", "十", "两", "，", "a"):
        assert homophones.sounds_like(char) == frozenset()
    assert "她" not in homophones.sounds_like("塔")


@pytest.mark.parametrize("heard, meant", [
    ("他说在不海我们就上门", "他说在不还我们就上门"),     # 还 read hai
    ("请问是刘芳女是本人吗", "请问是刘芳女士本人吗"),
    ("短信反都反死了", "短信反都烦死了"),              # the first 反 has context on one side only
    ("你们反不反啊，天天打", "你们烦不烦啊，天天打"),    # the second change is made with the first in place
    ("你感动我女儿试试", "你敢动我女儿试试"),
])
def test_homophones_the_sentence_rejects_are_put_back(homophones, heard, meant):
    assert homophones.correct_text(heard) == meant


@pytest.mark.parametrize("text", [
    "孩子上学要钱", "海边的房子太贵了", "我明天下午三点前还五百", "麻烦您转告他一下",
    "他是她的老公", "张先生您好，我是招商银行的", "请您尽快处理一下", "你敢动我女儿试试",
])
def test_text_that_fits_stays(homophones, text):
    assert homophones.correct_text(text) == text


def test_the_margins_decide(homophones):
    run = "请问是刘芳女是本人吗"
    fixed, done = homophones.correct_run(run)
    assert [(c.start, c.before, c.after) for c in done] == [(6, "是", "士")]
    gain = done[0].gain
    assert homophones.margin <= gain
    stricter = HomophoneCorrector(homophones.lm, gain + 0.01, homophones.word_margin, homophones.edge_margin)
    assert stricter.correct_run(run) == (run, [])
    # at the end of a stretch (context on one side) a change needs the edge margin more
    edge = "请问是刘女是"
    assert homophones.correct_run(edge) == (edge, [])
    loose = HomophoneCorrector(homophones.lm, homophones.margin, homophones.word_margin, 0.0)
    fixed, done = loose.correct_run(edge)
    assert fixed == "请问是刘女士" and homophones.margin <= done[0].gain < homophones.margin + homophones.edge_margin


def test_words_keep_their_timings_and_a_pause_ends_the_stretch(homophones):
    words = [Word(0.0, 0.4, "请问是"), Word(0.4, 0.8, "刘芳"), Word(0.8, 1.0, "女"), Word(1.0, 1.2, "是"),
             Word(1.2, 1.6, "本人吗", probability=0.7)]
    fixed, changed = homophones.correct_words(words)
    assert changed == 1 and "".join(w.text for w in fixed) == "请问是刘芳女士本人吗"
    assert [(w.start, w.end, w.probability) for w in fixed] == [(w.start, w.end, w.probability) for w in words]
    assert fixed[0] is words[0]                      # words that did not change are the same objects
    apart = [Word(0.0, 0.4, "请问是刘芳女"), Word(0.4 + RUN_GAP_S, 0.6 + RUN_GAP_S, "是"),
             Word(0.6 + RUN_GAP_S, 1.0 + RUN_GAP_S, "本人吗")]
    assert homophones.correct_words(apart)[0][1].text == "是"   # 女 | 是本人吗: no context across the pause
    assert homophones.correct_words([]) == ([], 0)


def test_call_scripts_in_the_repository_are_rarely_changed(homophones):
    """Every change on correctly written collection talk is a false one: bench/term_correction.py
    counts them (4.9 per 10,000 of these 14,400 characters with the shipped margins)."""
    from bench.term_correction import script_turns

    texts = script_turns()
    chars = sum(len(t) for t in texts)
    changed = sum(a != b for t in texts for a, b in zip(t, homophones.correct_text(t)))
    assert chars > 10_000 and changed / chars * 1e4 <= 8


def test_settings_keys_and_their_errors(tmp_path):
    config = tmp_path / "callqa.toml"
    config.write_text("[asr]\nhomophone_margin = 5.0\nhomophone_word_margin = 1\nhomophone_edge_margin = 0\n",
                      encoding="utf-8")
    h = homophone_corrector(load_settings(config, environ={}).asr)
    assert (h.margin, h.word_margin, h.edge_margin) == (5.0, 1.0, 0.0)
    assert homophone_corrector(AsrSettings(homophones=False)) is None
    for kwargs, needle in (
        ({"homophone_margin": -1.0}, "asr.homophone_margin must be >= 0"),
        ({"homophone_edge_margin": -0.5}, "asr.homophone_edge_margin must be >= 0"),
        ({"correction": False, "rescore_hypotheses": 1, "correction_lm": str(tmp_path / "gone.json.gz")},
         "asr.correction_lm: no file"),
    ):
        with pytest.raises(ValueError, match=needle) as err:
            AsrSettings(**kwargs)
        assert "\n" not in str(err.value)
    assert AsrSettings(correction=False, homophones=False, rescore_hypotheses=1,
                       correction_lm=str(tmp_path / "gone.json.gz")).homophones is False


@pytest.mark.slow  # the real Whisper model
def test_real_whisper_output_keeps_its_timings(transcriber, repo_root):
    """The customer channel of out_call_02 through Whisper base: whatever the two corrections
    change, every word keeps its start, end and length, and only homophones or terms come in."""
    from speech.asr import drop_loops, drop_unaligned
    from speech.audio import normalise_gain
    from speech.homophone_correction import all_readings as sounds
    from speech.term_correction import readings
    from tests.helpers.audio import decode_at

    assert transcriber.homophones is not None
    audio = decode_at(repo_root / "tests" / "data" / "calls_outcomes" / "out_call_02.stereo.flac", 16000)
    samples = normalise_gain(np.ascontiguousarray(audio.samples[1]), -3.0, 30.0)[0]
    raw = drop_unaligned(drop_loops(transcriber.recognise(samples)))
    fixed = transcriber.transcribe(samples)
    assert [(w.start, w.end, len(w.text)) for w in fixed] == [(w.start, w.end, len(w.text)) for w in raw]
    raw_text, fixed_text = "".join(w.text for w in raw), "".join(w.text for w in fixed)
    assert raw_text and len(raw_text) == len(fixed_text)
    for a, b in zip(raw_text, fixed_text):
        assert a == b or readings(a) & sounds(b) or any(b in t for t in transcriber.corrector.terms)
