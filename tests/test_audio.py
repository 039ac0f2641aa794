"""Decoding and normalisation on real speech in the formats telephone archives use."""
import numpy as np
import pytest

from speech.audio import AudioError, dbfs, normalise_gain
from tests.helpers.audio import decode_at, encode, load_clip


@pytest.fixture(scope="module")
def speech_8k(test_data):
    return load_clip(test_data / "audio" / "BAC009S0764W0121.wav", 8000)


def test_stereo_call_keeps_channels(sample_calls):
    audio = decode_at(sample_calls / "dev_call_01.stereo.wav")
    assert audio.channels == 2 and audio.sample_rate == 16000 and audio.source_rate == 8000
    assert audio.duration == pytest.approx(57.6, abs=0.05)
    assert audio.samples.dtype == np.float32
    assert not np.allclose(audio.samples[0], audio.samples[1])


@pytest.mark.parametrize("codec,suffix,fmt", [
    ("pcm_mulaw", ".wav", "wav"), ("pcm_alaw", ".wav", "wav"), ("libmp3lame", ".mp3", "mp3"),
    ("aac", ".m4a", "ipod"), ("flac", ".flac", "flac"), ("libopus", ".ogg", "ogg"),
])
def test_codecs_decode_to_16k(tmp_path, speech_8k, codec, suffix, fmt):
    rate = 48000 if codec == "libopus" else 8000
    signal = speech_8k if rate == 8000 else np.repeat(speech_8k, 6)
    path = encode(signal[None, :], rate, tmp_path / f"clip{suffix}", codec, fmt)
    audio = decode_at(path)
    assert audio.channels == 1 and audio.sample_rate == 16000
    assert audio.duration == pytest.approx(signal.size / rate, abs=0.15)
    # the speech survives the codec: level within a few dB of the original
    assert abs(dbfs(audio.samples[0]) - dbfs(signal)) < 3.0


def test_amr_narrowband(tmp_path, speech_8k):
    path = encode(speech_8k[None, :], 8000, tmp_path / "clip.amr", "libopencore_amrnb", "amr")
    audio = decode_at(path)
    assert audio.duration == pytest.approx(speech_8k.size / 8000, abs=0.1)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty_audio"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4, "decode_error"),
    (np.random.default_rng(0).bytes(20000), "decode_error"),
])
def test_garbage_is_a_clear_error(tmp_path, content, reason):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(AudioError) as info:
        decode_at(bad)
    assert info.value.reason == reason
    assert str(info.value)


def test_truncated_header(tmp_path, sample_calls):
    bad = tmp_path / "cut.wav"
    bad.write_bytes((sample_calls / "dev_call_01.stereo.wav").read_bytes()[:300])
    with pytest.raises(AudioError):
        decode_at(bad)


def test_limits(tmp_path, speech_8k):
    path = encode(speech_8k[None, :], 8000, tmp_path / "clip.wav", "pcm_s16le", "wav")
    with pytest.raises(AudioError, match="limit") as info:
        decode_at(path, max_duration_s=1.0)
    assert info.value.reason == "too_long"
    with pytest.raises(AudioError) as info:
        decode_at(path, max_file_mb=0.001)
    assert info.value.reason == "too_large"


def test_gain_normalisation_lifts_quiet_speech_but_not_noise(speech_8k):
    quiet = speech_8k * 10 ** (-15 / 20)
    lifted, gain = normalise_gain(quiet, -3.0, 40.0)
    assert gain == pytest.approx(15 + (-3.0 - 20 * np.log10(np.quantile(np.abs(speech_8k), 0.999))), abs=0.5)
    assert np.quantile(np.abs(lifted), 0.999) == pytest.approx(10 ** (-3 / 20), rel=0.05)
    noise = (np.random.default_rng(1).standard_normal(8000) * 1e-4).astype(np.float32)
    _, noise_gain = normalise_gain(noise, -3.0, 30.0)
    assert noise_gain == 30.0  # capped: line noise is not blown up to full scale
