"""Whisper's beam n-best re-ranked with the collection language model: which reading is kept,
which readings compete, settings, and the real Whisper model with it switched on."""
import numpy as np
import pytest

from core.char_lm import load_lm
from core.settings import AsrSettings, load_settings, project_path
from core.chinese import speech_runs
from speech.nbest_rescoring import LENGTH_SLACK, RescoringWhisper, best, reading


@pytest.fixture(scope="module")
def tokenizer():
    """The bundled Whisper base's own tokenizer (tokens as Whisper writes them)."""
    from tokenizers import Tokenizer

    from speech.whisper_models import resolve_model

    return Tokenizer.from_file(str(resolve_model("base") / "tokenizer.json"))


@pytest.fixture(scope="module")
def lm():
    return load_lm(str(project_path(AsrSettings().correction_lm)))


@pytest.fixture(scope="module")
def read(tokenizer, lm):
    """A Reading of ``text`` at Whisper score ``score`` (its last token: a timestamp, or ``end``)."""
    eot = tokenizer.token_to_id("<|endoftext|>")

    def decode(tokens):
        return tokenizer.decode([t for t in tokens if t < eot])

    def make(text: str, score: float, end: int = 50364 + 1500):
        return reading(tokenizer.encode(" " + text).ids + [end], score, decode, lm)
    return make


def test_speech_runs_are_simplified_speech_characters():
    assert speech_runs("喂，您好！還款 3000 元 ok") == ["喂", "您好", "还款", "3000", "元"]
    assert speech_runs("，。 ok") == []


def test_weight_zero_keeps_whispers_reading(read):
    readings = [read("为了确认是名本人", -0.30), read("为了确认是您本人", -0.31)]
    assert best(readings, 0.0) == 0


def test_the_language_model_picks_the_reading_the_sentence_wants(read):
    heard, meant = read("为了确认是名本人", -0.30), read("为了确认是您本人", -0.32)
    assert meant.lm > heard.lm and meant.chars == heard.chars
    assert best([heard, meant], 0.3) == 1
    # the weight decides: just below the weight at which the two tie, Whisper's reading stays
    n = len(heard.tokens)
    tie = (heard.whisper - meant.whisper) * n / (np.log(10) * (meant.lm - heard.lm))
    assert best([heard, meant], tie * 0.99) == 0 and best([heard, meant], tie * 1.01) == 1


def test_readings_that_end_elsewhere_or_differ_in_length_do_not_compete(read):
    first = read("为了确认是名本人麻烦您说一下", -0.30)
    elsewhere = read("为了确认是您本人麻烦您说一下", -0.31, end=50364 + 1400)   # another last timestamp
    shorter = read("为了确认是您本人", -0.31)                                  # the language model likes short text
    longer = read("为了确认是您本人麻烦您说一下身份证", -0.31)
    assert abs(shorter.chars - first.chars) > LENGTH_SLACK and abs(longer.chars - first.chars) > LENGTH_SLACK
    assert best([first, elsewhere, shorter, longer], 10.0) == 0
    assert best([first, elsewhere, read("为了确认是您本人麻烦您说一下", -0.31)], 0.3) == 2


def test_a_text_already_seen_never_wins(read):
    first = read("为了确认是您本人", -0.30)
    again = read("为了确认是您本人", -0.10)          # same text, other timestamps: Whisper's own is kept
    assert best([first, again], 0.3) == 0


def test_settings_keys_and_their_errors(tmp_path):
    config = tmp_path / "callqa.toml"
    config.write_text("[asr]\nrescore_hypotheses = 4\nrescore_weight = 0.5\n", encoding="utf-8")
    asr = load_settings(config, environ={}).asr
    assert (asr.rescore_hypotheses, asr.rescore_weight) == (4, 0.5)
    for kwargs, needle in (
        ({"rescore_hypotheses": 0}, "asr.rescore_hypotheses must be >= 1"),
        ({"rescore_weight": -0.1}, "asr.rescore_weight must be >= 0"),
        ({"correction": False, "homophones": False, "rescore_hypotheses": 8,
          "correction_lm": str(tmp_path / "gone.json.gz")}, "asr.correction_lm: no file"),
    ):
        with pytest.raises(ValueError, match=needle) as err:
            AsrSettings(**kwargs)
        assert "\n" not in str(err.value)
    assert AsrSettings(correction=False, homophones=False, rescore_hypotheses=1,
                       correction_lm=str(tmp_path / "gone.json.gz")).rescore_hypotheses == 1


@pytest.mark.slow  # the real Whisper model, twice
def test_real_whisper_with_and_without_rescoring(cfg, repo_root):
    """The customer channel of out_call_02: with re-ranking every window's readings are
    recorded (at most the configured number, Whisper's first), the words keep time order and
    lie in the audio; at weight 0 the words are exactly those with re-ranking off."""
    from dataclasses import replace

    from speech.asr import Transcriber
    from speech.audio import normalise_gain
    from tests.helpers.audio import decode_at

    audio = decode_at(repo_root / "tests" / "data" / "calls_outcomes" / "out_call_02.stereo.flac", 16000)
    samples = normalise_gain(np.ascontiguousarray(audio.samples[1]), -3.0, 30.0)[0]
    off = Transcriber(replace(cfg.asr, rescore_hypotheses=1))
    assert not isinstance(off.model.model, RescoringWhisper)
    on = Transcriber(replace(cfg.asr, rescore_hypotheses=4, rescore_weight=0.3))
    assert isinstance(on.model.model, RescoringWhisper)
    windows = []
    on.model.model.on_window = lambda readings, k: windows.append((readings, k))
    words = on.recognise(samples)
    assert words and windows
    assert all(1 <= len(r) <= 4 and 0 <= k < len(r) for r, k in windows)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert all(0 <= w.start <= w.end <= samples.size / 16000 + 0.5 for w in words)
    on.model.model.weight = 0.0
    assert [(w.start, w.end, w.text) for w in on.recognise(samples)] == \
        [(w.start, w.end, w.text) for w in off.recognise(samples)]


@pytest.mark.slow  # the real Whisper model
def test_batched_pipeline_is_rescored_too(cfg, repo_root):
    """faster-whisper's batched pipeline (the GPU path, run here on the CPU) calls the same
    model for several windows at once: each gets its own readings and choice."""
    from dataclasses import replace

    from speech.asr import Transcriber
    from speech.audio import normalise_gain
    from tests.helpers.audio import decode_at

    audio = decode_at(repo_root / "tests" / "data" / "calls_outcomes" / "out_call_02.stereo.flac", 16000)
    both = np.concatenate([audio.samples[0], audio.samples[1]])       # both sides one after the other: several chunks
    samples = normalise_gain(np.ascontiguousarray(both), -3.0, 30.0)[0]
    batched = Transcriber(replace(cfg.asr, batched=True, batch_size=4, rescore_hypotheses=4, rescore_weight=0.3))
    windows = []
    batched.model.model.on_window = lambda readings, k: windows.append((readings, k))
    words = batched.recognise(samples)
    assert words and len(windows) >= 2
    assert all(1 <= len(r) <= 4 and 0 <= k < len(r) for r, k in windows)
    assert all(0 <= w.start <= w.end <= samples.size / 16000 + 0.5 for w in words)
