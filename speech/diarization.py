"""Speaker diarization for calls: who spoke when, and which words each speaker said.

Backends: ``pyannote`` for mono recordings (:func:`diarize`; the embedded pipeline built by
``scripts/setup_diarization.sh`` unless ``pipeline_dir`` or ``$CALLQA_DIARIZATION_PIPELINE``
names another pipeline folder) and ``by_channel`` for stereo recordings with one party per
channel (:func:`turns_by_channel`). :func:`assign_words` turns ASR words plus speaker turns
into :class:`~core.domain.Utterance` objects (role "unknown"; see ``analysis.roles``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.domain import Utterance, Word
from core.settings import MODEL_SAMPLE_RATE, DiarizationSettings

log = logging.getLogger("speech")

SAMPLE_RATE = MODEL_SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Turn:
    """A stretch of time attributed to one speaker label (seconds)."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def _to_mono_16k(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim == 2:  # (channels, samples) or (samples, channels)
        audio = audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio, got shape {np.shape(waveform)}")
    if sample_rate != SAMPLE_RATE:
        import torch
        import torchaudio.functional as AF

        audio = AF.resample(torch.from_numpy(audio), sample_rate, SAMPLE_RATE).numpy()
    return audio


def diarize(
    waveform: np.ndarray,
    sample_rate: int,
    settings: DiarizationSettings,
    *,
    exclusive: bool = False,
    cache: dict | None = None,
) -> list[Turn]:
    """Diarize a mono recording with pyannote; return turns sorted by start time.

    Args:
        waveform: mono float audio (a 2-D array is downmixed); resampled to 16 kHz if needed.
        settings: ``num_speakers`` voices exactly, or with ``max_speakers`` a range from
            ``num_speakers`` to ``max_speakers`` (2 and 3: a relative taking the phone);
            ``pipeline_dir`` a pyannote pipeline folder (config.yaml + checkpoints), "" for
            ``$CALLQA_DIARIZATION_PIPELINE`` or the embedded ``models/pyannote-embedded``.
            ``segmentation_threshold``, ``clustering_threshold`` and ``min_duration_off`` are
            the embedded pipeline's parameters. After pyannote, with any pipeline that has
            pyannote's embedding model: ``resegment_pause_s`` > 0 cuts turns at pauses and moves
            each piece of at least ``resegment_min_s`` to the voice it matches best
            (:func:`split_at_pauses`, :func:`reassign_pieces`); ``island_max_s`` > 0 gives short
            slips to their neighbour (:func:`absorb_islands`), then turns closer than
            ``bridge_max_s`` are joined; ``snap_max_shift_s`` > 0 moves turn edges to the speech
            the audio's energy shows (:func:`snap_turns`); ``pad_s`` widens the turns a little.
        exclusive: return non-overlapping turns (pyannote's exclusive diarization).
        cache: a dict the caller keeps between runs on the same audio (parameter sweeps):
            network outputs are stored there and reused.

    Labels are ``SPEAKER_00``, ``SPEAKER_01``, ... The pipeline is loaded once per process.
    """
    from speech import pyannote_backend as backend

    num_speakers: int | None = settings.num_speakers
    min_speakers = max_speakers = None
    if settings.max_speakers:
        min_speakers, max_speakers, num_speakers = settings.num_speakers, settings.max_speakers, None
    pipeline_dir, device = settings.pipeline_dir or None, settings.device
    audio = _to_mono_16k(waveform, sample_rate)
    if audio.size < SAMPLE_RATE // 2 or not np.any(np.abs(audio) > 1e-4):
        return []
    pipeline = backend.load_pipeline(pipeline_dir, device=device)
    started = time.perf_counter()
    params = {"segmentation": {"threshold": settings.segmentation_threshold,
                               "min_duration_off": settings.min_duration_off},
              "clustering": {"threshold": settings.clustering_threshold}}
    triples = backend.run(pipeline, audio, num_speakers=num_speakers, min_speakers=min_speakers,
                          max_speakers=max_speakers, exclusive=exclusive, params=params, cache=cache)
    turns = [Turn(round(s, 3), round(e, 3), label) for s, e, label in triples]
    active = speech_frames(audio, SAMPLE_RATE, rel_db=settings.snap_rel_db)
    if settings.resegment_pause_s > 0 and len({t.speaker for t in turns}) > 1:
        pieces = split_at_pauses(turns, active, SNAP_HOP_S, min_pause=settings.resegment_pause_s)
        spans = [(p.start, p.end) for p in pieces if p.duration >= settings.resegment_min_s]
        vectors = dict(zip(spans, backend.embed(pipeline, audio, spans, cache=cache)))
        turns = reassign_pieces(pieces, vectors, margin=settings.resegment_margin)
    if settings.island_max_s > 0:
        turns = absorb_islands(turns, max_island=settings.island_max_s, active=active, hop_s=SNAP_HOP_S)
        turns = bridge_gaps(turns, max_gap=settings.bridge_max_s or settings.min_duration_off)
    if settings.snap_max_shift_s > 0:
        turns = snap_turns(turns, active, SNAP_HOP_S, max_shift=settings.snap_max_shift_s)
    if settings.pad_s > 0:
        turns = pad_turns(turns, settings.pad_s, end=audio.size / SAMPLE_RATE)
    elapsed = time.perf_counter() - started
    duration = audio.size / SAMPLE_RATE
    log.info("diarized %.1fs of audio in %.1fs (RTF %.2f): %d turns, %d speakers", duration, elapsed,
             elapsed / duration, len(turns), len({t.speaker for t in turns}))
    return turns


SNAP_HOP_S = 0.01
ISLAND_REACH_S = 1.0  # an island goes to a neighbour at most this far away


def absorb_islands(turns: list[Turn], *, max_island: float, active: np.ndarray | None = None,
                   hop_s: float = SNAP_HOP_S) -> list[Turn]:
    """Give a turn shorter than ``max_island`` s to the speaker of its nearest neighbour, when
    it is a slip and not a short reply of its own.

    A fragment of a second labelled with the other voice, at the start or end of a turn, is
    nearly always a clustering slip (too little audio for a reliable voice print): it goes to
    the closer of the turns before and after it (within ``ISLAND_REACH_S``), when that turn is
    another speaker's. It is a slip when it overlaps or runs into another speaker's turn with no
    pause between (``active``: speech per ``hop_s`` frame, see :func:`speech_frames`; a pause is
    ``MIN_PAUSE_S`` of silence; without ``active`` only overlapping or touching turns count), or
    when it carries the label of the turn on one side of it and not of the other (the speaker
    change put a little too early or late). A short turn after a pause with the other speaker on
    both sides (a "嗯" between two of the collector's sentences), or at the start or end of the
    call, is a reply and keeps its label, as do islands far from any turn.
    """
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    out = list(ordered)
    long_turns = [o for o in ordered if o.duration >= max_island]
    for i, t in enumerate(ordered):
        if t.duration >= max_island:
            continue
        # a longer turn of another speaker over it (islands included): the island is inside it
        covering = [o for o in ordered if o.speaker != t.speaker and o.duration > t.duration
                    and o.start <= t.start and o.end >= t.end]
        if covering:
            out[i] = Turn(t.start, t.end, max(covering, key=lambda o: o.duration).speaker)
            continue
        near = [(_gap(t, o), o) for o in long_turns if o.speaker != t.speaker and _gap(t, o) <= ISLAND_REACH_S]
        if not near:
            continue
        before = [o for o in long_turns if o.end <= t.start + 1e-9]
        after = [o for o in long_turns if o.start >= t.end - 1e-9]
        sides = {max(before, key=lambda o: o.end).speaker if before else None,
                 min(after, key=lambda o: o.start).speaker if after else None}
        at_a_change = t.speaker in sides and len(sides - {None}) == 2
        glued = [(g, o) for g, o in near if _glued(t, o, active, hop_s)]
        if glued or at_a_change:
            out[i] = Turn(t.start, t.end, min(glued or near, key=lambda n: n[0])[1].speaker)
    return _merge_touching(out)


def _gap(a: Turn, b: Turn) -> float:
    """Seconds of time between two turns (0 when they touch or overlap)."""
    return max(0.0, b.start - a.end, a.start - b.end)


def _glued(a: Turn, b: Turn, active: np.ndarray | None, hop_s: float) -> bool:
    """Do the two turns overlap, or run into each other with no pause between their speech?"""
    if a.start < b.end and b.start < a.end:
        return True
    first, second = (a, b) if a.end <= b.start else (b, a)
    if active is None:
        return second.start - first.end <= 1e-9
    n = len(active)
    f0, f1 = int(round(first.start / hop_s)), min(n, int(round(first.end / hop_s)))
    s0, s1 = int(round(second.start / hop_s)), min(n, int(round(second.end / hop_s)))
    spoken_first, spoken_second = np.flatnonzero(active[f0:f1]), np.flatnonzero(active[s0:s1])
    if spoken_first.size == 0 or spoken_second.size == 0:
        return False
    end, start = f0 + spoken_first[-1] + 1, s0 + spoken_second[0]
    return (start - end) * hop_s < MIN_PAUSE_S


def split_at_pauses(turns: list[Turn], active: np.ndarray, hop_s: float, *, min_pause: float) -> list[Turn]:
    """Cut each turn in the middle of every pause of at least ``min_pause`` s inside it
    (``active``: speech per ``hop_s`` frame); the pieces keep the turn's label and tile it.
    """
    k = max(1, int(round(min_pause / hop_s)))
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        a, b = int(round(t.start / hop_s)), min(len(active), int(round(t.end / hop_s)))
        silent = ~active[a:b] if b > a else np.zeros(0, bool)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])) != 0).reshape(-1, 2)
        start = t.start
        for s, e in edges:
            if e - s < k or s == 0 or e == len(silent):  # short, or silence at the turn's own edge
                continue
            cut = round((a + (s + e) / 2) * hop_s, 3)  # pieces tile the turn: cut mid-pause
            out.append(Turn(start, cut, t.speaker))
            start = cut
        out.append(Turn(start, t.end, t.speaker))
    return out


def reassign_pieces(pieces: list[Turn], vectors: dict[tuple[float, float], np.ndarray], *,
                    margin: float) -> list[Turn]:
    """Move each piece to the speaker whose voice it matches best (re-segmentation).

    ``vectors``: a speaker embedding per (start, end) of the pieces long enough to embed; the
    others keep their label. A speaker's voice print is the duration-weighted mean of its
    pieces' unit vectors, without the piece being judged (so a piece does not vote for its
    own label). A piece moves when its cosine similarity to another speaker's print beats its
    own speaker's by more than ``margin``, and never so that a speaker is left with no piece;
    a piece cut from the same turn as a moved one, next to it, follows it when that speaker's
    print is the one it matches best (a turn glued to the other's rarely splits in one place
    only). Then each speaker's touching pieces are joined again.
    """
    labels = sorted({p.speaker for p in pieces})
    idx = [i for i, p in enumerate(pieces) if (p.start, p.end) in vectors]
    if len(labels) < 2 or len(idx) < 3:
        return _merge_touching(pieces)
    x = np.asarray([vectors[(pieces[i].start, pieces[i].end)] for i in idx], dtype=np.float64)
    ok = np.isfinite(x).all(axis=1) & (np.linalg.norm(np.nan_to_num(x), axis=1) > 0)
    x = np.nan_to_num(x)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    w = np.asarray([pieces[i].duration for i in idx]) * ok
    own = np.asarray([labels.index(pieces[i].speaker) for i in idx])
    sums = np.zeros((len(labels), x.shape[1]))
    np.add.at(sums, own, w[:, None] * x)
    sims = np.full((len(idx), len(labels)), -np.inf)
    for row in np.flatnonzero(ok):
        prints = sums.copy()
        prints[own[row]] -= w[row] * x[row]
        norms = np.linalg.norm(prints, axis=1)
        sims[row] = np.where(norms > 1e-9, prints @ x[row] / np.maximum(norms, 1e-9), -np.inf)
    out = list(pieces)
    left = {lbl: sum(1 for p in pieces if p.speaker == lbl) for lbl in labels}
    row_of = {i: row for row, i in enumerate(idx)}

    def move(i: int, need: float) -> bool:
        row = row_of[i]
        best = int(np.argmax(sims[row]))
        if not ok[row] or out[i].speaker != pieces[i].speaker or best == own[row] \
                or sims[row, best] <= sims[row, own[row]] + need or left[labels[own[row]]] <= 1:
            return False
        left[labels[own[row]]] -= 1
        out[i] = Turn(pieces[i].start, pieces[i].end, labels[best])
        return True

    moved = [i for i in idx if move(i, margin)]
    # a piece of the same turn next to a moved one follows it when that voice matches it better
    while moved:
        nxt = []
        for i in moved:
            for j in (i - 1, i + 1):
                if j in row_of and _same_turn(pieces, i, j) and out[j].speaker != out[i].speaker \
                        and labels[int(np.argmax(sims[row_of[j]]))] == out[i].speaker and move(j, 0.0):
                    nxt.append(j)
        moved = nxt
    return _merge_touching(out)


def _same_turn(pieces: list[Turn], i: int, j: int) -> bool:
    """Were pieces ``i`` and ``j`` cut from one turn (same label, touching)?"""
    a, b = pieces[min(i, j)], pieces[max(i, j)]
    return a.speaker == b.speaker and abs(a.end - b.start) < 1e-9


def bridge_gaps(turns: list[Turn], *, max_gap: float) -> list[Turn]:
    """Join a speaker's consecutive turns less than ``max_gap`` s apart with nobody in between."""
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        prev = out[-1] if out else None
        if prev is not None and prev.speaker == t.speaker and t.start - prev.end < max_gap:
            out[-1] = Turn(prev.start, max(prev.end, t.end), t.speaker)
        else:
            out.append(t)
    return _merge_touching(out)


def speech_frames(audio: np.ndarray, sample_rate: int, *, rel_db: float, hop_s: float = SNAP_HOP_S,
                  floor_margin_db: float = 10.0) -> np.ndarray:
    """Per ``hop_s`` frame (frame ``i`` = ``[i * hop_s, (i + 1) * hop_s)``): speech energy?

    A frame is speech when its level is within ``rel_db`` of the recording's loud frames (99th
    percentile) and ``floor_margin_db`` above its noise floor (10th percentile), so a noisy
    line does not turn into one long stretch of "speech".
    """
    hop = max(1, int(hop_s * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0, dtype=bool)
    x = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    level = 10 * np.log10((x * x).mean(axis=1) + 1e-12)
    loud, floor = np.percentile(level, 99), np.percentile(level, 10)
    return level > max(loud - rel_db, floor + floor_margin_db)


def snap_turns(turns: list[Turn], active: np.ndarray, hop_s: float, *, max_shift: float) -> list[Turn]:
    """Move each turn's edges (at most ``max_shift`` s) to where speech starts and ends.

    ``active[i]`` says whether frame ``i`` (``hop_s`` apart) holds speech. First, where one
    speaker's turn is followed by another's, the change is moved into the pause (silence of at
    least ``MIN_PAUSE_S``) nearest to it within ``max_shift``: people take turns at pauses.
    Then an edge in silence moves inward to the nearest speech and an edge inside speech
    outward to where that speech ends, never past halfway to the other speakers' neighbouring
    turns. A turn with no speech at all is dropped. Turns that overlap another speaker's turn
    (two voices at once) are left as they are.
    """
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    n = len(active)
    if n == 0 or max_shift <= 0:
        return ordered
    k = int(round(max_shift / hop_s))
    ordered = _changes_to_pauses(_merge_touching(ordered), active, hop_s, k)
    out: list[Turn] = []
    for turn in ordered:
        room = _room(turn, ordered, 0.0, n * hop_s)  # outward moves stop halfway to the other speakers
        if room is None:
            out.append(turn)
            continue
        lo, hi = room
        a, b = int(round(turn.start / hop_s)), min(n, int(round(turn.end / hop_s)))
        lo_f, hi_f = int(np.ceil(lo / hop_s)), min(n, int(hi / hop_s))
        if b <= a:
            out.append(turn)
            continue
        inside = np.flatnonzero(active[a:b])
        if inside.size == 0:
            continue
        # start: inward to the first speech (within max_shift), or outward while speech goes on
        start = a + inside[0] if inside[0] <= k else a
        if active[a]:
            while start > max(lo_f, a - k) and active[start - 1]:
                start -= 1
        end = a + inside[-1] + 1 if (b - (a + inside[-1] + 1)) <= k else b
        if active[b - 1]:
            while end < min(hi_f, b + k) and active[end]:
                end += 1
        out.append(Turn(round(float(start * hop_s), 3), round(float(end * hop_s), 3), turn.speaker))
    return _merge_touching(out)


def pad_turns(turns: list[Turn], pad: float, *, end: float) -> list[Turn]:
    """Widen each turn by ``pad`` s on both sides (a word's first and last sounds are quieter
    than the energy threshold), never past halfway to another speaker's turn nor outside
    ``[0, end]``. Turns that overlap another speaker's are left as they are."""
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    out = []
    for t in ordered:
        room = _room(t, ordered, 0.0, end)
        out.append(t if room is None else
                   Turn(round(max(t.start - pad, room[0]), 3), round(min(t.end + pad, room[1]), 3), t.speaker))
    return _merge_touching(out)


def _room(turn: Turn, ordered: list[Turn], first: float, last: float) -> tuple[float, float] | None:
    """How far ``turn`` may grow: halfway to the other speakers' turns before and after it
    (``first`` / ``last`` where there are none); None when it overlaps one of them."""
    others = [t for t in ordered if t.speaker != turn.speaker]
    if any(t.start < turn.end and t.end > turn.start for t in others):
        return None
    before = max([t.end for t in others if t.end <= turn.start], default=None)
    after = min([t.start for t in others if t.start >= turn.end], default=None)
    return (first if before is None else (before + turn.start) / 2,
            last if after is None else (turn.end + after) / 2)


MIN_PAUSE_S = 0.15


def _changes_to_pauses(ordered: list[Turn], active: np.ndarray, hop_s: float, k: int) -> list[Turn]:
    """Move each change of speaker between consecutive turns into the nearest pause (see snap_turns)."""
    out = list(ordered)
    silent = ~active
    min_pause = max(1, int(round(MIN_PAUSE_S / hop_s)))
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.speaker == b.speaker or any(t.start < b.end and t.end > a.start for j, t in enumerate(out)
                                         if j not in (i, i + 1)):
            continue
        a_end, b_start = int(round(a.end / hop_s)), int(round(b.start / hop_s))
        first, last = min(a_end, b_start), max(a_end, b_start)
        lo, hi = int(round(a.start / hop_s)) + 1, min(int(round(b.end / hop_s)) - 1, len(active))
        if hi - lo < min_pause:
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], silent[lo:hi].astype(np.int8), [0]])) != 0)

        def distance(pause: tuple[int, int]) -> int:  # frames from the change to the pause (0: inside)
            return max(pause[0] - last, first - pause[1], 0)

        pauses = [(lo + s, lo + e) for s, e in edges.reshape(-1, 2) if e - s >= min_pause]
        pauses = [p for p in pauses if distance(p) <= k]
        if not pauses:
            continue
        s, e = min(pauses, key=lambda p: (distance(p), -(p[1] - p[0])))
        out[i] = Turn(a.start, round(float(s * hop_s), 3), a.speaker)
        out[i + 1] = Turn(round(float(e * hop_s), 3), b.end, b.speaker)
    return out


def _merge_touching(turns: list[Turn]) -> list[Turn]:
    """One turn for each run of a speaker's overlapping or touching turns; sorted by start."""
    merged: list[Turn] = []
    last: dict[str, int] = {}
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        j = last.get(t.speaker)
        if j is not None and t.start <= merged[j].end:
            merged[j] = Turn(merged[j].start, max(merged[j].end, t.end), t.speaker)
        else:
            last[t.speaker] = len(merged)
            merged.append(t)
    return merged


def turns_by_channel(
    waveform: np.ndarray,
    sample_rate: int,
    *,
    labels: Sequence[str] = ("ch0", "ch1"),
    frame: float = 0.03,
    threshold_db: float = -35.0,
    min_speech: float = 0.2,
    min_silence: float = 0.3,
) -> list[Turn]:
    """Energy-based speech turns per channel of a (channels, samples) recording.

    A frame is speech on a channel when its level is within ``threshold_db`` of that
    channel's loudest frame and louder than the other channels' (cross-talk/echo).
    Gaps shorter than ``min_silence`` are bridged, turns shorter than ``min_speech`` dropped.
    """
    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError("turns_by_channel needs (channels, samples) audio")
    if audio.shape[0] > audio.shape[1]:
        audio = audio.T
    if len(labels) < audio.shape[0]:
        raise ValueError(f"{audio.shape[0]} channels but {len(labels)} labels")
    hop = max(1, int(frame * sample_rate))
    n = audio.shape[1] // hop
    if n == 0:
        return []
    frames = audio[:, : n * hop].reshape(audio.shape[0], n, hop)
    level = 10 * np.log10(np.mean(frames**2, axis=2) + 1e-12)
    turns: list[Turn] = []
    for ch in range(audio.shape[0]):
        others = np.delete(level, ch, axis=0)
        louder = level[ch] >= (others.max(axis=0) - 6.0 if others.size else -np.inf)
        active = (level[ch] > level[ch].max() + threshold_db) & louder
        turns += _runs(active, hop / sample_rate, labels[ch], min_speech, min_silence)
    return sorted(turns, key=lambda t: (t.start, t.speaker))


def _runs(active: np.ndarray, step: float, label: str, min_speech: float, min_silence: float) -> list[Turn]:
    spans: list[list[float]] = []
    for i in np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])) != 0).reshape(-1, 2):
        start, end = i[0] * step, i[1] * step
        if spans and start - spans[-1][1] < min_silence:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [Turn(round(s, 3), round(e, 3), label) for s, e in spans if e - s >= min_speech]


WORD_CORE_S = 0.3  # Whisper stretches a word's start back over a preceding pause: trust its end


def _speaker_for(word: Word, turns: list[Turn]) -> str | None:
    end = max(word.end, word.start)
    start = max(word.start, end - WORD_CORE_S)
    overlap: dict[str, float] = {}
    for t in turns:
        if t.start > end:
            break
        ov = min(end, t.end) - max(start, t.start)
        if ov > 0 or (ov == 0 and start == end and t.start <= start <= t.end):
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + ov
    if overlap:
        return max(overlap.items(), key=lambda kv: kv[1])[0]
    if not turns:
        return None
    mid = (start + end) / 2
    return min(turns, key=lambda t: max(t.start - mid, mid - t.end, 0.0)).speaker


def assign_words(words: list[Word], turns: list[Turn], *, max_gap: float) -> list[Utterance]:
    """Group ASR words into utterances by speaker.

    Each word goes to the speaker whose turns overlap it most (overlapping turns are
    allowed), judged on its last 0.3 s: Whisper often starts the first word after a pause
    early, inside the other speaker's turn. A word in no turn goes to the nearest turn. Consecutive words of one speaker
    form an utterance, split where the pause between words exceeds ``max_gap`` seconds.
    Roles are left "unknown". Without turns every word goes to speaker "unknown".
    """
    ordered_turns = sorted(turns, key=lambda t: t.start)
    utterances: list[Utterance] = []
    for word in sorted(words, key=lambda w: (w.start, w.end)):
        speaker = _speaker_for(word, ordered_turns) or "unknown"
        last = utterances[-1] if utterances else None
        if last is not None and last.speaker == speaker and word.start - last.end <= max_gap:
            last.words.append(word)
            last.end = max(last.end, word.end)
            last.text += word.text
        else:
            utterances.append(Utterance(speaker=speaker, role="unknown", start=word.start,
                                        end=word.end, text=word.text, words=[word]))
    for u in utterances:
        u.text = u.text.strip()
    return utterances
