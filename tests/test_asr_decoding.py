"""ASR decoding settings (round 2, bench/README.md "ASR accuracy, round 2"): parsing and
validation of the new [asr] keys, the fallback temperatures, the CER number normalisation of
bench/asr_errors.py, and the real Whisper base with the shipped defaults on a real 8 kHz call
and on silence."""
import json

import numpy as np
import pytest

from core.settings import AsrSettings, load_settings
from speech.asr import fallback_temperatures


def write_toml(tmp_path, body: str):
    path = tmp_path / "callqa.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_new_asr_keys_are_read_from_the_file(tmp_path):
    path = write_toml(tmp_path, "[asr]\npatience = 2.0\nbest_of = 3\ntemperature_step = 0.5\n"
                                "repetition_penalty = 1.1\nno_repeat_ngram_size = 3\n"
                                "condition_on_previous_text = true\nhallucination_silence_s = 0.0\n")
    asr = load_settings(path, environ={}).asr
    assert (asr.patience, asr.best_of, asr.temperature_step) == (2.0, 3, 0.5)
    assert (asr.repetition_penalty, asr.no_repeat_ngram_size) == (1.1, 3)
    assert asr.condition_on_previous_text is True and asr.hallucination_silence_s == 0.0


def test_new_asr_keys_from_the_environment():
    asr = load_settings(environ={"CALLQA_ASR__PATIENCE": "1.5", "CALLQA_ASR__VAD_SPEECH_PAD_MS": "300"}).asr
    assert asr.patience == 1.5 and asr.vad_speech_pad_ms == 300


@pytest.mark.parametrize("line, message", [
    ("beam_size = 0", "asr.beam_size must be >= 1"),
    ("patience = 0.0", "asr.patience must be > 0"),
    ("best_of = 0", "asr.best_of must be >= 1"),
    ("temperature_step = 1.5", "asr.temperature_step must be between 0 and 1"),
    ("repetition_penalty = 0.0", "asr.repetition_penalty must be > 0"),
    ("no_repeat_ngram_size = -1", "asr.no_repeat_ngram_size must be >= 0"),
    ("vad_threshold = 1.0", "asr.vad_threshold must be between 0 and 1"),
    ("vad_speech_pad_ms = -5", "asr.vad_speech_pad_ms must be >= 0"),
    ("hallucination_silence_s = -1.0", "asr.hallucination_silence_s must be >= 0"),
    ('best_of = "five"', "asr.best_of"),
    ('condition_on_previous_text = "yes"', "asr.condition_on_previous_text"),
])
def test_bad_asr_values_are_one_line_errors(tmp_path, line, message):
    path = write_toml(tmp_path, f"[asr]\n{line}\n")
    with pytest.raises(ValueError) as err:
        load_settings(path, environ={})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_fallback_temperatures():
    assert fallback_temperatures(0.2) == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert fallback_temperatures(0.5) == (0.0, 0.5, 1.0)
    assert fallback_temperatures(0.0) == (0.0,)
    assert fallback_temperatures(AsrSettings().temperature_step)[0] == 0.0


def test_number_normalisation_reads_numerals_as_spoken():
    from bench.asr_errors import normalise_numbers, read_integer

    assert [read_integer(n) for n in (10, 15, 105, 620, 1080, 12300, 20000, 120000)] == [
        "十", "十五", "一百零五", "六百二十", "一千零八十", "一万二千三百", "二万", "十二万"]
    # phone numbers digit by digit, 幺 and 两 as the same digits, amounts by value, both sides alike
    assert normalise_numbers("新号码是13800138246") == normalise_numbers("新号码是一三八零零幺三八二四六")
    assert normalise_numbers("欠款12300元") == normalise_numbers("欠款一万两千三百元")
    assert normalise_numbers("利息5%，3.5元") == "利息百分之五，三点五元"
    assert normalise_numbers("逾期四十五天") == "逾期四十五天"   # spoken numerals untouched


def reference_turns(test_data, call_id):
    return json.loads((test_data / "calls_outcomes" / f"{call_id}.json").read_text(encoding="utf-8"))


@pytest.mark.slow  # the real Whisper model on a real 8 kHz stereo call (19 s)
def test_defaults_transcribe_a_real_call_with_sane_timestamps(test_data, cfg, transcriber):
    from speech.audio import decode, normalise_gain
    from tests.helpers.text import cer

    truth = reference_turns(test_data, "out_call_03")
    audio = decode(test_data / "calls_outcomes" / truth["audio"]["stereo"], cfg.audio)
    for ch in (0, 1):
        turns = [t for t in truth["turns"] if t["channel"] == ch]
        words = transcriber.transcribe(normalise_gain(audio.samples[ch], cfg.audio.target_peak_dbfs,
                                                      cfg.audio.max_gain_db)[0])
        assert words and words == sorted(words, key=lambda w: w.start)
        assert all(0 <= w.start <= w.end <= audio.duration for w in words)
        # every word lies on one of this channel's reference turns (none on the other party's)
        assert all(any(t["start"] - 0.5 <= (w.start + w.end) / 2 <= t["end"] + 0.5 for t in turns) for w in words)
        # the first word starts where the first turn starts (VAD padding does not clip nor shift it)
        assert abs(words[0].start - turns[0]["start"]) < 0.6
        text = "".join(w.text for w in words)
        assert cer("".join(t["text"] for t in turns), text) <= 0.25


@pytest.mark.slow  # the real Whisper model
def test_defaults_write_nothing_on_silence_or_line_noise(cfg, transcriber):
    from scipy.signal import butter, sosfilt

    from speech.audio import normalise_gain

    rng = np.random.default_rng(20261130)
    band = sosfilt(butter(6, [300, 3400], btype="bandpass", fs=16000, output="sos"), rng.standard_normal(16000 * 30))
    noise = (band / np.sqrt(np.mean(band ** 2)) * 10 ** (-60 / 20)).astype(np.float32)
    for clip in (np.zeros(16000 * 20, dtype=np.float32), noise):
        samples, _ = normalise_gain(clip, cfg.audio.target_peak_dbfs, cfg.audio.max_gain_db)
        assert transcriber.transcribe(samples) == []


def test_uncovered_speech_is_speech_without_words(test_data):
    from core.domain import Word
    from speech.asr import RECOVER_PAD_S, RATE, uncovered_speech
    from speech.audio import normalise_gain
    from tests.helpers.audio import load_clip

    clip = normalise_gain(load_clip(test_data / "audio" / "BAC009S0764W0121.wav"), -3.0, 30.0)[0]
    silence = np.zeros(2 * RATE, dtype=np.float32)
    samples = np.concatenate([silence, clip, silence])
    spans = uncovered_speech(samples, [], AsrSettings())
    assert len(spans) == 1
    a, b = spans[0]
    assert abs(a / RATE - 2.0) < 0.5 + RECOVER_PAD_S and abs(b / RATE - (2.0 + clip.size / RATE)) < 0.5 + RECOVER_PAD_S
    whole = [Word(start=a / RATE, end=b / RATE, text="说")]
    assert uncovered_speech(samples, whole, AsrSettings()) == []
    assert uncovered_speech(np.zeros(5 * RATE, dtype=np.float32), [], AsrSettings()) == []
    with pytest.raises(ValueError, match="asr.recover_min_s must be >= 0"):
        AsrSettings(recover_min_s=-1.0)


@pytest.mark.slow  # the real Whisper model
def test_speech_left_without_words_is_decoded_again(transcriber, repo_root):
    """A turn whose words are taken away (as when Whisper ends a window early) comes back:
    recover() decodes the stretch alone, and adds nothing where words already are."""
    from speech.audio import normalise_gain
    from tests.helpers.audio import decode_at

    audio = decode_at(repo_root / "tests" / "data" / "calls_outcomes" / "out_call_02.stereo.flac", 16000)
    samples = normalise_gain(np.ascontiguousarray(audio.samples[1]), -3.0, 30.0)[0]
    words = transcriber.transcribe(samples)
    assert transcriber.recover(samples, words) == words        # nothing left empty: nothing added
    gaps = [(words[i].end, words[i + 1].start) for i in range(len(words) - 1)]
    cut = max(range(len(gaps)), key=lambda i: gaps[i][1] - gaps[i][0])   # the longest pause ends a turn
    after = [w for w in words[cut + 1:] if w.start - words[cut + 1].start < 2.5]
    kept = [w for w in words if w not in after]
    back = transcriber.recover(samples, kept)
    new = [w for w in back if w not in kept]
    assert len("".join(w.text for w in new)) >= len("".join(w.text for w in after)) - 2
    assert all(after[0].start - 0.5 <= w.start and w.end <= after[-1].end + 1.5 for w in new)
    assert back == sorted(back, key=lambda w: (w.start, w.end))


def test_lattice_oracle_edits_equal_the_best_choice_of_readings():
    """bench/asr_rescoring's oracle: the fewest edits over every choice of one reading per
    window, computed at once, equals the brute-force minimum."""
    import itertools
    import random

    from bench.asr_errors import align
    from bench.asr_rescoring import lattice_edits

    def edits(ref: str, hyp: str) -> int:
        return sum(op != "=" for op, _, _ in align(ref, hyp))

    assert lattice_edits("还款日期", [["换款", "还款"], ["日期", "一期", ""]]) == 0
    assert lattice_edits("还款", []) == 2 and lattice_edits("", [["一", "一二"]]) == 1
    rng = random.Random(7)
    for _ in range(200):
        ref = "".join(rng.choice("还款逾期") for _ in range(rng.randint(0, 10)))
        windows = [["".join(rng.choice("还款逾期一") for _ in range(rng.randint(0, 5)))
                    for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(0, 3))]
        brute = min(edits(ref, "".join(choice)) for choice in itertools.product(*windows))
        assert lattice_edits(ref, windows) == brute


def test_prefix_oracle_keeps_the_reading_nearest_the_reference_so_far():
    from types import SimpleNamespace

    from bench.asr_rescoring import PrefixOracle

    choose = PrefixOracle("还款日期是明天")
    assert choose([SimpleNamespace(text="换款日"), SimpleNamespace(text="还款日")]) == 1
    assert choose([SimpleNamespace(text="一期是"), SimpleNamespace(text="期是")]) == 1
    assert choose([SimpleNamespace(text="明天"), SimpleNamespace(text="明天")]) == 0   # ties: Whisper's order
