"""Real Whisper base on real Mandarin: accuracy, script, roles by channel, silence."""
import numpy as np
import pytest

from speech.audio import DecodedAudio, normalise_gain
from speech.pipeline import channels_are_copies, prepare_channel, transcribe_call
from tests.helpers.audio import load_clip, stereo_call
from tests.helpers.text import cer


def references(test_data):
    refs = {}
    for line in (test_data / "audio" / "transcripts.txt").read_text(encoding="utf-8").splitlines():
        key, *words = line.split()
        refs[key] = "".join(words)
    return refs


@pytest.mark.slow  # the real Whisper model
def test_aishell_clip_cer(test_data, transcriber):
    audio = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    words = transcriber.transcribe(normalise_gain(audio, -3.0, 30.0)[0])
    text = "".join(w.text for w in words)
    assert cer(references(test_data)["BAC009S0764W0121"], text) <= 0.10
    assert all(w.end >= w.start for w in words)
    assert words == sorted(words, key=lambda w: w.start)


@pytest.mark.slow  # the real Whisper model
def test_telephone_band_output_is_simplified(test_data, transcriber):
    # 8 kHz telephone version of the same clip: Whisper tends to answer in Traditional script
    audio = load_clip(test_data / "audio" / "BAC009S0764W0121.wav", 8000)
    wide = np.interp(np.arange(audio.size * 2) / 2, np.arange(audio.size), audio).astype(np.float32)
    text = "".join(w.text for w in transcriber.transcribe(normalise_gain(wide, -3.0, 30.0)[0]))
    for traditional in "現幾滯況":
        assert traditional not in text
    assert cer(references(test_data)["BAC009S0764W0121"], text) <= 0.25


@pytest.mark.slow  # the real Whisper model
def test_silence_yields_no_text(transcriber):
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(16000 * 20) * 10 ** (-60 / 20)).astype(np.float32)
    assert transcriber.transcribe(normalise_gain(hiss, -3.0, 30.0)[0]) == []


@pytest.mark.slow  # the real Whisper model
def test_stereo_call_from_real_clips_roles_by_channel(test_data, transcriber, cfg):
    first = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    second = load_clip(test_data / "audio" / "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav")
    samples = stereo_call(first, second, 16000)
    audio = DecodedAudio(samples=samples, sample_rate=16000, source_rate=16000, codec="pcm_s16le")
    transcript = transcribe_call(audio, transcriber, channel_roles=("collector", "customer"),
                                 audio_settings=cfg.audio, diarization=cfg.diarization,
                                 max_gap=cfg.utterances.max_gap_s)
    assert transcript.diarization == "channel"
    refs = references(test_data)
    by_role = {}
    for u in transcript.utterances:
        by_role.setdefault(u.role, []).append(u)
        assert u.speaker == f"ch{u.channel}"
    assert set(by_role) == {"collector", "customer"}
    collector = "".join(u.text for u in by_role["collector"])
    customer = "".join(u.text for u in by_role["customer"])
    assert cer(refs["BAC009S0764W0121"], collector) <= 0.15
    assert cer(refs["TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"], customer) <= 0.25
    # the collector's clip comes first, the customer's after it
    assert max(u.end for u in by_role["collector"]) < min(u.start for u in by_role["customer"])
    assert all(a.start <= b.start for a, b in zip(transcript.utterances, transcript.utterances[1:]))


def test_identical_channels_are_treated_as_mono(test_data):
    clip = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    assert channels_are_copies(np.stack([clip, clip]))
    assert not channels_are_copies(stereo_call(clip, clip, 16000))


def test_prepare_channel_normalises_speech_and_flags_line_noise(test_data, cfg):
    clip = load_clip(test_data / "audio" / "BAC009S0764W0121.wav") * np.float32(0.05)
    speech = prepare_channel(clip, cfg.audio)
    assert not speech.silent
    assert np.array_equal(speech.samples, normalise_gain(clip, cfg.audio.target_peak_dbfs, cfg.audio.max_gain_db)[0])
    assert 0 < speech.gain_db <= cfg.audio.max_gain_db
    hiss = (np.random.default_rng(0).standard_normal(16000 * 5) * 10 ** (-80 / 20)).astype(np.float32)
    assert prepare_channel(hiss, cfg.audio).silent
    assert prepare_channel(np.zeros(16000, np.float32), cfg.audio).silent
