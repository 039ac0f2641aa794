"""Mono recordings end to end: real Whisper, real pyannote weights, roles from content."""
import json

import pytest

from core.domain import Call
from flows.recording import process_recording

pytestmark = pytest.mark.slow  # real Whisper and pyannote


@pytest.mark.parametrize("call_id,roles", [("dev_call_03", {"collector", "third_party"}),
                                           ("dev_call_05", {"collector", "customer"})])
def test_mono_call_gets_speakers_and_roles(cfg, test_data, call_id, roles):
    truth = json.loads((test_data / "calls" / f"{call_id}.json").read_text(encoding="utf-8"))
    result = process_recording(Call(call_id=call_id, path=str(test_data / "calls" / f"{call_id}.mono.wav")), cfg)
    assert result.diarization == "pyannote" and result.channels == 1
    assert {u.role for u in result.utterances} == roles
    assert not result.needs_review and result.roles_confidence > 0.5
    right = total = 0.0
    for turn in truth["turns"]:
        for u in result.utterances:
            ov = max(0.0, min(turn["end"], u.end) - max(turn["start"], u.start))
            total += ov
            right += ov if u.role == turn["role"] else 0.0
    assert right / total >= 0.95
    assert {m.role for m in result.metrics} == roles | {"all"}
    kinds = {(f.kind, f.role) for f in result.findings}
    if call_id == "dev_call_03":
        assert ("privacy", "collector") in kinds          # the mother was told the debt
    else:
        assert ("threat", "collector") in kinds and ("abuse", "customer") in kinds
