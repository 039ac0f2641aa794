"""Call measurements on hand-built timelines and on a real call."""
import numpy as np
import pytest

from core.domain import Utterance
from tests.helpers.audio import decode_at
from speech.metrics import measure_call


def utt(role, start, end, text="你好你好"):
    return Utterance(speaker=role, role=role, start=start, end=end, text=text, channel=0 if role == "collector" else 1)


def test_talk_silence_overlap_interruptions():
    utterances = [
        utt("collector", 0.0, 4.0, "一二三四五六七八"),   # 8 chars in 4 s
        utt("customer", 3.0, 6.0),                       # starts 1 s before the collector stops: interruption
        utt("collector", 5.9, 7.0),                      # 0.1 s overlap: not an interruption
        utt("customer", 9.0, 10.0),
    ]
    by_role = {m.role: m for m in measure_call(utterances, 12.0)}
    c, k, a = by_role["collector"], by_role["customer"], by_role["all"]
    assert c.talk_s == pytest.approx(5.1) and k.talk_s == pytest.approx(4.0)
    assert k.interruptions == 1 and c.interruptions == 0 and a.interruptions == 1
    assert k.overlap_s == pytest.approx(1.1) and c.overlap_s == pytest.approx(1.1)
    assert a.talk_s == pytest.approx(8.0) and a.silence_s == pytest.approx(4.0)
    assert a.overlap_s == pytest.approx(1.0 + 0.1)
    assert c.speech_rate_cpm == pytest.approx((8 + 4) / (5.1 / 60), rel=1e-3)
    assert c.talk_share == pytest.approx(5.1 / 12, abs=1e-3)


def test_loudness_per_channel(sample_calls):
    audio = decode_at(sample_calls / "dev_call_01.stereo.wav")
    quiet = audio.samples[1] * 0.1                       # customer channel 20 dB down
    utterances = [utt("collector", 1.0, 8.0), utt("customer", 9.6, 12.2)]
    m = {r.role: r for r in measure_call(utterances, audio.duration, channel_audio={0: audio.samples[0], 1: quiet})}
    loud = {r.role: r for r in measure_call(utterances, audio.duration, channel_audio={0: audio.samples[0], 1: audio.samples[1]})}
    assert loud["customer"].loudness_dbfs - m["customer"].loudness_dbfs == pytest.approx(20.0, abs=0.01)
    assert -40 < m["collector"].loudness_dbfs < -5


def test_empty_call():
    (only,) = measure_call([], 30.0)
    assert only.role == "all" and only.silence_s == 30.0 and only.talk_s == 0 and only.speech_rate_cpm == 0
