"""ASR term correction: how characters sound, the collection language model, which stretches
become terms and which stay, word timings, settings, and real Whisper output on a scripted call."""
import math

import numpy as np
import pytest

from core.domain import Word
from core.settings import AsrSettings, load_settings, project_path
from speech.asr import term_corrector
from core.char_lm import CharLM, count_ngrams, lm_text, load_lm
from core.chinese import is_speech_char
from speech.term_correction import RUN_GAP_S, TermCorrector, blur, readings, term_sounds, word_edges


@pytest.fixture(scope="module")
def corrector():
    return term_corrector(AsrSettings())


def test_readings_are_toneless_commonest_and_digits_read_as_numerals():
    assert readings("逾") == {"yu"} and readings("于") == {"yu"}
    assert readings("还") == {"hai"}            # what Whisper wrote: its commonest reading only
    assert readings("7") == {"qi"} and readings("1") == {"yi", "yao"} and readings("2") == {"er", "liang"}
    assert readings("女") == {"nv"} and readings("，") == frozenset() and readings("a") == frozenset()
    assert "huan" in term_sounds("还款")[0] and "hang" in term_sounds("银行")[1]


def test_lm_text_makes_every_number_one_class():
    assert lm_text("逾期45天") == lm_text("逾期四十五天") == lm_text("逾期两天") == "逾期#天"


def test_the_language_model_is_a_distribution():
    lm = CharLM.from_counts(*count_ngrams([lm_text(t) for t in ("已经逾期三天", "已经还款了", "逾期会上报征信")]))
    alphabet = list(lm.uni) + ["$"]
    for ctx in ("^^", "已经", "逾期", "xy"):
        total = sum(lm.p(ctx, c) for c in dict.fromkeys(alphabet))
        assert 0.9 < total <= 1.0 + 1e-9   # what is left goes to characters never seen
    assert lm.logprob("已经逾期三天") > lm.logprob("已经于七三天")


def test_bundled_model_prefers_collection_wording():
    lm = load_lm(str(project_path(AsrSettings().correction_lm)))
    assert lm.logprob("您的账户已经逾期两个月了") - lm.logprob("您的账户已经于七两个月了") > 2
    assert math.isfinite(lm.logprob("完全没见过的字𠀋"))


@pytest.mark.parametrize("heard, meant", [
    ("您的信用卡已经于七两个月了", "您的信用卡已经逾期两个月了"),
    ("已经于745天了", "已经逾期45天了"),            # 逾期四十五天 heard as 于745天: the 7 is 期
    ("本期仗单六千二百", "本期账单六千二百"),
    ("先跟您合时一下身份", "先跟您核实一下身份"),
    ("这里是中心银行信用卡中心", "这里是中信银行信用卡中心"),
    ("有问题可以打我们的克服热线", "有问题可以打我们的客服热线"),   # a common word, overruled by context
])
def test_homophones_of_terms_become_the_terms(corrector, heard, meant):
    assert corrector.correct_text(heard) == meant


@pytest.mark.parametrize("text", [
    "我几点打给您合适",              # 合适 is a common word: 核实 needs far more than this context gives
    "比预期快很多",
    "不敢明目张胆地干这件事",         # 张胆 → 账单 would cut the word 明目张胆
    "您看什么时候还款方便",
])
def test_words_that_fit_stay(corrector, text):
    assert corrector.correct_text(text) == text


def test_word_edges_follow_the_dictionary_and_open_up_numbers():
    assert 2 not in word_edges("明目张胆地干")
    assert {2, 3, 4, 5, 6} <= word_edges("已经于745天")
    assert {3, 4, 5} <= word_edges("已经于七十二天")


def test_reference_scripts_in_the_repository_are_left_alone(corrector):
    """Every reference turn of the scripted calls kept here (correctly written collection
    talk, 14,400 characters) comes through unchanged: the measure of false corrections."""
    from bench.term_correction import script_turns   # the corpus bench/term_correction.py counts on

    texts = script_turns()
    assert sum(len(t) for t in texts) > 11000
    assert [t for t in texts if corrector.correct_text(t) != t] == []


def test_words_keep_their_timings_and_only_characters_change(corrector):
    words = [Word(0.0, 0.4, "已经", 0.9), Word(0.4, 0.6, "于", 0.5), Word(0.6, 1.1, "745", 0.7),
             Word(1.1, 1.3, "天", 0.9), Word(1.3, 1.4, "。", 0.9)]
    fixed, changed = corrector.correct_words(words)
    assert changed == 1
    assert [w.text for w in fixed] == ["已经", "逾", "期45", "天", "。"]
    assert [(w.start, w.end, w.probability) for w in fixed] == [(w.start, w.end, w.probability) for w in words]
    assert fixed[0] is words[0]                      # unchanged words are the same objects
    assert corrector.correct_words([]) == ([], 0)


def test_a_pause_ends_the_stretch_of_speech(corrector):
    together = [Word(0.0, 0.3, "已经"), Word(0.3, 0.5, "于"), Word(0.5, 0.7, "七"), Word(0.7, 1.0, "两个月")]
    assert "".join(w.text for w in corrector.correct_words(together)[0]) == "已经逾期两个月"
    apart = [Word(0.0, 0.3, "已经"), Word(0.3, 0.5, "于"), Word(0.5 + RUN_GAP_S, 0.7 + RUN_GAP_S, "七"),
             Word(0.7 + RUN_GAP_S, 1.0 + RUN_GAP_S, "两个月")]
    assert "".join(w.text for w in corrector.correct_words(apart)[0]) == "已经于七两个月"


def test_speech_characters():
    assert is_speech_char("逾") and is_speech_char("7") and not is_speech_char("，") and not is_speech_char("a")


def test_settings_keys_and_their_errors(tmp_path):
    config = tmp_path / "callqa.toml"
    terms = tmp_path / "terms.txt"
    terms.write_text("# ours\n停息挂账\n", encoding="utf-8")
    config.write_text(f'[asr]\ncorrection_terms = "{terms}"\ncorrection_margin = 3.0\ncorrection_word_margin = 8\n', encoding="utf-8")
    cfg = load_settings(config, environ={})
    assert (cfg.asr.correction_margin, cfg.asr.correction_word_margin) == (3.0, 8.0)
    c = term_corrector(cfg.asr)
    assert "停息挂账" in c.terms and "逾期" in c.terms and (c.margin, c.word_margin) == (3.0, 8.0)
    assert term_corrector(AsrSettings(correction=False)) is None
    for kwargs, needle in (
        ({"correction_margin": -1.0}, "asr.correction_margin must be >= 0"),
        ({"correction_terms": str(tmp_path / "gone.txt")}, "asr.correction_terms: cannot read"),
        ({"correction_lm": str(tmp_path / "gone.json.gz")}, "asr.correction_lm: no file"),
    ):
        with pytest.raises(ValueError, match=needle) as err:
            AsrSettings(**kwargs)
        assert "\n" not in str(err.value)
    assert AsrSettings(correction=False, homophones=False, rescore_hypotheses=1,
                       correction_lm=str(tmp_path / "gone.json.gz")).correction is False
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="asr.correction_lm: cannot read"):
        load_lm(str(broken))


@pytest.mark.slow  # the real Whisper model
def test_real_whisper_output_on_a_scripted_call(transcriber, repo_root):
    """The collector channel of out_call_01 (8 kHz, synthetic voice): Whisper base writes
    逾期十五天 as 于75天; corrected, the words say 逾期 and keep Whisper's timings."""
    from speech.asr import drop_loops, drop_unaligned
    from speech.audio import normalise_gain
    from tests.helpers.audio import decode_at

    audio = decode_at(repo_root / "tests" / "data" / "calls_outcomes" / "out_call_01.stereo.flac", 16000)
    samples = normalise_gain(np.ascontiguousarray(audio.samples[0]), -3.0, 30.0)[0]
    raw = drop_unaligned(drop_loops(transcriber.recognise(samples)))
    fixed = transcriber.transcribe(samples)
    assert transcriber.corrector is not None
    assert [(w.start, w.end) for w in fixed] == [(w.start, w.end) for w in raw]
    assert [len(w.text) for w in fixed] == [len(w.text) for w in raw]
    raw_text, fixed_text = "".join(w.text for w in raw), "".join(w.text for w in fixed)
    assert "逾期" not in raw_text and "逾期" in fixed_text
    changed = {raw_text[i] + fixed_text[i] for i in range(len(raw_text)) if raw_text[i] != fixed_text[i]}
    assert changed and all(b in "".join(transcriber.corrector.terms) for _, b in changed)


def test_the_model_is_trained_on_stretches_of_speech():
    from analysis.training.train_char_lm import runs

    assert runs("您好，這裡是信用卡中心。欠款3000元！OK") == ["您好", "这里是信用卡中心", "欠款#元"]
    assert runs("...") == []


def test_blurred_syllables_match_at_a_price(corrector):
    assert blur("ming") == blur("min") == "min" and blur("sheng") == blur("sen") == "sen" and blur("lan") == "nan"
    assert corrector.correct_text("我是名声银行信用卡中心的") == "我是民生银行信用卡中心的"   # ming ~ min
    strict = TermCorrector(corrector.terms, corrector.lm, corrector.margin, corrector.word_margin, 0.0)
    assert strict.correct_text("我是名声银行信用卡中心的") == "我是名声银行信用卡中心的"
    assert strict.sounds_like("名声银行", "民生银行") is None and corrector.sounds_like("名声银行", "民生银行") == 1
    assert corrector.sounds_like("于七", "逾期") == 0
