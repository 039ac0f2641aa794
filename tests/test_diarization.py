"""Diarization on real audio with the embedded pipeline (real weights, no mocks).

Needs ``bash scripts/setup_diarization.sh`` (builds models/pyannote-embedded).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.domain import Word
from core.settings import DiarizationSettings
from speech.diarization import Turn, assign_words, diarize, turns_by_channel


TWO = DiarizationSettings()   # the defaults: exactly two voices, the embedded pipeline, CPU


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    from scipy.io import wavfile

    sr, data = wavfile.read(path)
    if data.dtype.kind in "iu":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float32), int(sr)


def read_rttm(path: Path) -> list[Turn]:
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        turns.append(Turn(float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns



class _LazyBackend:
    """speech.pyannote_backend, imported on first use: it loads torch and pyannote (seconds),
    which collecting the fast tier must not pay."""

    def __getattr__(self, name: str):
        if name.startswith("_"):  # pytest's collection probes __test__, _mock_name and the like
            raise AttributeError(name)
        from speech import pyannote_backend

        return getattr(pyannote_backend, name)


backend = _LazyBackend()


def der(reference: list[Turn], hypothesis: list[Turn]) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for t in reference:
        ref[Segment(t.start, t.end)] = t.speaker
    for t in hypothesis:
        hyp[Segment(t.start, t.end)] = t.speaker
    return DiarizationErrorRate(collar=0.0)(ref, hyp, uem=Segment(0, max(t.end for t in reference + hypothesis)))


@pytest.fixture(scope="module")
def pipeline_dir() -> Path:
    folder = backend.EMBEDDED_DIR
    if not (folder / "config.yaml").is_file():
        pytest.fail(f"{folder} missing: run bash scripts/setup_diarization.sh")
    return folder


@pytest.fixture(scope="module")
def sample(test_data: Path) -> tuple[np.ndarray, int, list[Turn]]:
    audio, sr = read_wav(test_data / "audio/diarization/sample.wav")
    return audio, sr, read_rttm(test_data / "audio/diarization/sample.rttm")


@pytest.mark.slow  # runs the pyannote pipeline
def test_der_on_pyannote_sample_16k(pipeline_dir: Path, sample) -> None:
    audio, sr, ref = sample
    turns = diarize(audio, sr, TWO)
    assert len({t.speaker for t in turns}) == 2
    assert all(t.end > t.start for t in turns)
    assert der(ref, turns) <= 0.12


@pytest.mark.slow  # runs the pyannote pipeline
def test_der_on_telephone_band_sample(pipeline_dir: Path, sample) -> None:
    import torch
    import torchaudio.functional as AF

    audio, sr, ref = sample
    narrow = AF.resample(torch.from_numpy(audio), sr, 8000).numpy()
    assert der(ref, diarize(narrow, 8000, TWO)) <= 0.15


@pytest.fixture(scope="module")
def call06(pipeline_dir: Path, test_data: Path, sample_calls: Path) -> tuple[list[Turn], list[Turn], dict]:
    """(diarized turns, reference turns, ground truth) of scripted call 06 (mono, 8 kHz)."""
    calls = test_data / "calls"
    audio, sr = read_wav(sample_calls / "dev_call_06.mono.wav")
    truth = json.loads((calls / "dev_call_06.json").read_text())
    return diarize(audio, sr, TWO), read_rttm(calls / "dev_call_06.rttm"), truth


@pytest.mark.slow  # runs the pyannote pipeline
def test_scripted_mono_call_turns_follow_the_parties(call06) -> None:
    turns, ref, _ = call06
    assert der(ref, turns) <= 0.25
    # every reference turn is mostly covered by the label of its party
    party_label: dict[str, set[str]] = {}
    for r in ref:
        cover: dict[str, float] = {}
        for t in turns:
            cover[t.speaker] = cover.get(t.speaker, 0.0) + max(0.0, min(r.end, t.end) - max(r.start, t.start))
        party_label.setdefault(r.speaker, set()).add(max(cover, key=cover.get))
    assert all(len(labels) == 1 for labels in party_label.values())
    assert party_label["collector"] != party_label["third_party"]


@pytest.mark.slow  # runs the pyannote pipeline
def test_silence_gives_no_turns(pipeline_dir: Path) -> None:
    assert diarize(np.zeros(16000 * 3, dtype=np.float32), 16000, TWO) == []


@pytest.mark.slow  # runs the pyannote pipeline
def test_pipeline_is_cached_per_folder(pipeline_dir: Path) -> None:
    assert backend.load_pipeline() is backend.load_pipeline(str(pipeline_dir))


@pytest.mark.slow  # runs the pyannote pipeline
def test_configured_folder_replaces_the_embedded_one(pipeline_dir: Path, tmp_path: Path, sample) -> None:
    """An operator-style folder (config.yaml + $model/ subfolders) loads via from_pretrained."""
    import yaml

    folder = tmp_path / "operator-pipeline"
    for sub in ("segmentation", "embedding"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "pytorch_model.bin").symlink_to(pipeline_dir / sub / "pytorch_model.bin")
    config = yaml.safe_load((pipeline_dir / "config.yaml").read_text())
    config["pipeline"]["params"]["segmentation_step"] = 0.25
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    loaded = backend.load_pipeline(folder)
    assert loaded is not backend.load_pipeline(pipeline_dir)
    assert loaded._segmentation.step == pytest.approx(1.25)
    audio, sr, ref = sample
    turns = diarize(audio[: sr * 12], sr, replace(TWO, pipeline_dir=str(folder)))
    assert {t.speaker for t in turns} <= {"SPEAKER_00", "SPEAKER_01"} and turns


def test_folder_validation_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(backend.PipelineFolderError, match="does not exist"):
        backend.validate_pipeline_dir(tmp_path / "nope")
    with pytest.raises(backend.PipelineFolderError, match="config.yaml is missing"):
        backend.validate_pipeline_dir(tmp_path)
    (tmp_path / "config.yaml").write_text(
        "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
        "    segmentation: $model/segmentation\n    embedding: $model/embedding\n"
        "    plda: $model/plda\n    clustering: VBxClustering\n")
    (tmp_path / "segmentation").mkdir()
    (tmp_path / "segmentation" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(backend.PipelineFolderError) as err:
        backend.validate_pipeline_dir(tmp_path)
    message = str(err.value)
    assert "embedding/pytorch_model.bin is missing" in message
    assert "plda/plda.npz is missing" in message and "plda/xvec_transform.npz" in message
    assert "segmentation/pytorch_model.bin" not in message
    (tmp_path / "config.yaml").write_text(
        "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
        "    segmentation: pyannote/segmentation-3.0\n")
    with pytest.raises(backend.PipelineFolderError, match="no hub access"):
        backend.validate_pipeline_dir(tmp_path)
    (tmp_path / "config.yaml").write_text("params: {}\n")
    with pytest.raises(backend.PipelineFolderError, match="pipeline.name"):
        backend.validate_pipeline_dir(tmp_path)


def test_changed_checkpoint_is_refused(pipeline_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(pipeline_dir, folder, ignore=shutil.ignore_patterns("embedding"))
    (folder / "embedding").mkdir()
    (folder / "embedding" / "pytorch_model.bin").write_bytes(b"not the model")
    with pytest.raises(backend.PipelineFolderError, match="changed since it was built"):
        backend.validate_pipeline_dir(folder)


def test_turns_by_channel_on_stereo_call(test_data: Path, sample_calls: Path) -> None:
    audio, sr = read_wav(sample_calls / "dev_call_01.stereo.wav")
    turns = turns_by_channel(audio.T, sr)
    ref = read_rttm(test_data / "calls/dev_call_01.rttm")
    for party, label in (("collector", "ch0"), ("customer", "ch1")):
        speech = sum(r.duration for r in ref if r.speaker == party)
        covered = sum(max(0.0, min(r.end, t.end) - max(r.start, t.start))
                      for r in ref if r.speaker == party for t in turns if t.speaker == label)
        wrong = sum(max(0.0, min(r.end, t.end) - max(r.start, t.start))
                    for r in ref if r.speaker != party for t in turns if t.speaker == label)
        assert covered / speech > 0.8
        assert wrong / speech < 0.1


def words_from_turns(turns: list[dict]) -> list[Word]:
    """Character-level Words spread over each ground-truth turn (punctuation dropped)."""
    words = []
    for turn in turns:
        chars = [c for c in turn["text"] if c.isalnum()]
        step = (turn["end"] - turn["start"]) / len(chars)
        words += [Word(turn["start"] + i * step, turn["start"] + (i + 1) * step, c) for i, c in enumerate(chars)]
    return words


def test_assign_words_rebuilds_the_turns_of_a_call(test_data: Path) -> None:
    truth = json.loads((test_data / "calls/dev_call_03.json").read_text())
    words = words_from_turns(truth["turns"])
    turns = read_rttm(test_data / "calls/dev_call_03.rttm")
    utterances = assign_words(words, turns, max_gap=1.0)
    assert [u.speaker for u in utterances] == [t["role"] for t in truth["turns"]]
    assert [u.text for u in utterances] == ["".join(c for c in t["text"] if c.isalnum()) for t in truth["turns"]]
    assert all(u.role == "unknown" and u.words for u in utterances)
    assert utterances[0].start == pytest.approx(truth["turns"][0]["start"])


@pytest.mark.slow  # runs the pyannote pipeline
def test_assign_words_with_diarized_turns(call06) -> None:
    turns, _, truth = call06
    utterances = assign_words(words_from_turns(truth["turns"]), turns, max_gap=1.0)
    by_role: dict[str, set[str]] = {}
    for u in utterances:
        mid = (u.start + u.end) / 2
        role = next(t["role"] for t in truth["turns"] if t["start"] - 0.5 <= mid <= t["end"] + 0.5)
        by_role.setdefault(role, set()).add(u.speaker)
    assert len(by_role["collector"] | by_role["third_party"]) == 2
    assert not by_role["collector"] & by_role["third_party"]


def test_assign_words_overlap_nearest_and_gaps() -> None:
    turns = [Turn(0.0, 2.0, "A"), Turn(1.8, 3.0, "B"), Turn(6.0, 7.0, "A")]
    words = [Word(0.1, 0.5, "你"), Word(0.5, 0.9, "好"), Word(1.7, 2.6, "喂"),  # mostly in B
             Word(3.3, 3.6, "嗯"),  # in no turn: nearest is B
             Word(6.1, 6.4, "好"), Word(8.5, 8.9, "的")]  # A again, after a > 1 s gap
    utterances = assign_words(words, turns, max_gap=1.0)
    assert [(u.speaker, u.text) for u in utterances] == [("A", "你好"), ("B", "喂嗯"), ("A", "好"), ("A", "的")]
    assert utterances[1].start == 1.7 and utterances[1].end == 3.6
    assert [u.speaker for u in assign_words(words[:2], [], max_gap=1.0)] == ["unknown"]
    assert assign_words([], turns, max_gap=1.0) == []


@pytest.mark.slow  # runs the pyannote pipeline
def test_third_voice_is_found_when_allowed(pipeline_dir: Path, test_data: Path) -> None:
    """Call 03 (collector + the debtor's mother) followed by call 01 (collector + debtor)."""
    calls = test_data / "calls"
    first, sr = read_wav(calls / "dev_call_03.mono.wav")
    second, _ = read_wav(calls / "dev_call_01.mono.first22s.wav")  # the first 22 s of the call's mono mix
    offset = len(first) / sr
    audio = np.concatenate([first, second[: int(21.5 * sr)]])
    ref = read_rttm(calls / "dev_call_03.rttm") + [
        Turn(t.start + offset, t.end + offset, t.speaker) for t in read_rttm(calls / "dev_call_01.rttm") if t.end < 21.5]
    turns = diarize(audio, sr, replace(TWO, max_speakers=3))
    assert len({t.speaker for t in turns}) == 3
    assert der(ref, turns) <= 0.2
