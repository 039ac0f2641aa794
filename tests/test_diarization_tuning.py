"""Mono diarization at 8 kHz: the tunables in DiarizationSettings and the edge snapping.

The snapping functions are pure, so they are tested on constructed turn lists and frames;
the slow test diarizes a real scripted mono call (tests/data/calls, 8 kHz) against its RTTM.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.settings import DiarizationSettings, load_settings
from speech.diarization import Turn, absorb_islands, bridge_gaps, snap_turns, speech_frames

HOP = 0.01


def frames(*spans: tuple[float, float], total: float = 10.0) -> np.ndarray:
    """Speech activity per 10 ms frame: True inside the given (start, end) spans in seconds."""
    active = np.zeros(int(round(total / HOP)), dtype=bool)
    for start, end in spans:
        active[int(round(start / HOP)):int(round(end / HOP))] = True
    return active


@pytest.mark.parametrize("key, value", [
    ("segmentation_threshold", 0.0), ("segmentation_threshold", 1.0), ("clustering_threshold", 1.2),
    ("min_duration_off", -0.1), ("min_duration_off", 3.0), ("snap_max_shift_s", -0.5),
    ("snap_max_shift_s", 2.5), ("snap_rel_db", 5.0), ("snap_rel_db", 100.0), ("island_max_s", -1.0),
])
def test_out_of_range_values_are_refused_naming_the_key(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"diarization.{key}"):
        replace(DiarizationSettings(), **{key: value})


def test_tunables_come_from_the_configuration_file(tmp_path: Path) -> None:
    toml = tmp_path / "callqa.toml"
    toml.write_text("[diarization]\nclustering_threshold = 0.6\nsnap_max_shift_s = 0.25\nsnap_rel_db = 35\n")
    settings = load_settings(toml, environ={}).diarization
    assert (settings.clustering_threshold, settings.snap_max_shift_s, settings.snap_rel_db) == (0.6, 0.25, 35.0)
    toml.write_text("[diarization]\nsnap_max_shift_s = 9\n")
    with pytest.raises(ValueError, match="snap_max_shift_s"):
        load_settings(toml, environ={})


def test_edges_in_silence_move_inward_to_the_speech() -> None:
    active = frames((1.0, 2.0), (2.5, 3.0))
    turns = [Turn(0.8, 2.2, "A"), Turn(2.4, 3.2, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.3) == [Turn(1.0, 2.0, "A"), Turn(2.5, 3.0, "B")]


def test_edges_inside_speech_move_outward_until_it_stops() -> None:
    active = frames((1.0, 2.0), (2.5, 3.0))
    turns = [Turn(1.15, 1.9, "A"), Turn(2.6, 2.95, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.3) == [Turn(1.0, 2.0, "A"), Turn(2.5, 3.0, "B")]


def test_an_edge_moves_at_most_max_shift() -> None:
    active = frames((1.0, 3.0))
    # start inside speech that began 0.5 s earlier: moves out by 0.2 s only; end 0.5 s after the
    # speech stopped: farther than 0.2 s, stays
    assert snap_turns([Turn(1.5, 3.5, "A")], active, HOP, max_shift=0.2) == [Turn(1.3, 3.5, "A")]


def test_outward_moves_stop_halfway_to_the_other_speaker() -> None:
    active = frames((1.0, 3.0))  # one stretch of speech, two speakers with no pause between
    turns = [Turn(1.1, 1.9, "A"), Turn(2.1, 2.9, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.5) == [Turn(1.0, 2.0, "A"), Turn(2.0, 3.0, "B")]


def test_a_turn_over_silence_only_is_dropped_and_overlap_is_left_alone() -> None:
    active = frames((1.0, 2.0), (4.0, 5.0))
    turns = [Turn(1.0, 2.0, "A"), Turn(2.5, 3.5, "B"), Turn(4.2, 5.0, "A"), Turn(4.5, 4.8, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.3) == \
        [Turn(1.0, 2.0, "A"), Turn(4.2, 5.0, "A"), Turn(4.5, 4.8, "B")]


def test_snapping_merges_a_speakers_turns_that_come_to_touch() -> None:
    active = frames((1.0, 3.0))
    assert snap_turns([Turn(1.0, 1.8, "A"), Turn(2.0, 3.0, "A")], active, HOP, max_shift=0.3) == \
        [Turn(1.0, 3.0, "A")]


def test_speech_frames_follow_the_energy_and_ignore_a_flat_noise_floor() -> None:
    sr = 8000
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 1e-3, sr * 3)
    assert not speech_frames(noise, sr, rel_db=40.0).any()  # a noisy line alone is not speech
    tone = noise.copy()
    tone[sr:2 * sr] += 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    active = speech_frames(tone, sr, rel_db=40.0)
    assert len(active) == 300
    assert np.flatnonzero(active)[[0, -1]].tolist() == [100, 199]


def test_a_change_of_speaker_moves_into_the_nearest_pause() -> None:
    # A speaks 1.0-2.0, pause, B speaks 2.4-3.5; pyannote put the change at 2.8 (0.4 s late)
    active = frames((1.0, 2.0), (2.4, 3.5))
    turns = [Turn(1.0, 2.8, "A"), Turn(2.8, 3.5, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.5) == [Turn(1.0, 2.0, "A"), Turn(2.4, 3.5, "B")]
    # the pause is farther than max_shift: the change stays (only the silence edges move)
    assert snap_turns(turns, active, HOP, max_shift=0.3) == [Turn(1.0, 2.8, "A"), Turn(2.8, 3.5, "B")]


def test_a_change_picks_the_pause_closest_to_it() -> None:
    # two pauses near the change: 1.9-2.1 (a breath inside A's turn) and 2.4-2.7 (the turn change)
    active = frames((1.0, 1.9), (2.1, 2.4), (2.7, 4.0))
    turns = [Turn(1.0, 2.6, "A"), Turn(2.6, 4.0, "B")]
    assert snap_turns(turns, active, HOP, max_shift=0.5) == [Turn(1.0, 2.4, "A"), Turn(2.7, 4.0, "B")]


def test_a_fragment_of_the_other_voice_goes_to_its_nearest_neighbour() -> None:
    # call 03's last turn as pyannote left it: 0.38 s of the collector's label at the start of the
    # third party's turn, and a 0.02 s sliver at its end
    turns = [Turn(17.43, 21.06, "A"), Turn(21.74, 22.12, "A"), Turn(22.55, 23.49, "B"), Turn(23.49, 23.51, "A")]
    absorbed = absorb_islands(turns, max_island=0.5)
    assert absorbed == [Turn(17.43, 21.06, "A"), Turn(21.74, 22.12, "B"), Turn(22.55, 23.51, "B")]
    assert bridge_gaps(absorbed, max_gap=0.5) == [Turn(17.43, 21.06, "A"), Turn(21.74, 23.51, "B")]


def test_islands_keep_their_label_when_long_enough_or_far_from_any_turn() -> None:
    turns = [Turn(0.0, 3.0, "A"), Turn(3.2, 4.0, "B"), Turn(4.3, 7.0, "A"), Turn(9.0, 9.3, "B")]
    assert absorb_islands(turns, max_island=0.5) == turns          # B's 0.8 s reply stays
    assert absorb_islands(turns, max_island=1.0)[-1] == Turn(9.0, 9.3, "B")  # 2 s from anyone: kept


def test_gaps_are_bridged_only_within_one_speaker_with_nobody_between() -> None:
    turns = [Turn(0.0, 1.0, "A"), Turn(1.3, 2.0, "A"), Turn(2.1, 2.5, "B"), Turn(2.6, 3.0, "A")]
    assert bridge_gaps(turns, max_gap=0.4) == [Turn(0.0, 2.0, "A"), Turn(2.1, 2.5, "B"), Turn(2.6, 3.0, "A")]
    assert bridge_gaps(turns, max_gap=0.2) == turns


@pytest.mark.slow  # runs the pyannote pipeline on a 24 s call
def test_scripted_8k_call_scores_better_with_the_new_defaults(test_data: Path) -> None:
    """dev_call_03 (collector + the debtor's mother, 8 kHz mono mix): 8.0 % DER before (a slice
    of the mother's last turn labelled as the collector, edges 0.1-0.3 s off), ~1 % now."""
    from scipy.io import wavfile

    from speech import pyannote_backend as backend
    from speech.diarization import diarize
    from tests.test_diarization import der, read_rttm

    if not (backend.EMBEDDED_DIR / "config.yaml").is_file():
        pytest.fail(f"{backend.EMBEDDED_DIR} missing: run bash scripts/setup_diarization.sh")
    sr, data = wavfile.read(test_data / "calls" / "dev_call_03.mono.wav")
    audio = data.astype(np.float32) / 32768.0
    ref = read_rttm(test_data / "calls" / "dev_call_03.rttm")
    cache: dict = {}  # the networks run once; the second call only re-clusters
    now = DiarizationSettings()
    before = replace(now, island_max_s=0.0, snap_max_shift_s=0.0)
    assert now.island_max_s > 0 and now.snap_max_shift_s > 0
    new_der = der(ref, diarize(audio, sr, now, cache=cache))
    old_der = der(ref, diarize(audio, sr, before, cache=cache))
    assert old_der > 0.05
    assert new_der <= 0.03
