"""Group recognised words into utterances and order them across speakers."""
from __future__ import annotations

from core.domain import Utterance, Word


def join_words(words: list[Word]) -> str:
    """Concatenate word pieces (Chinese has no spaces; other scripts carry their own)."""
    return "".join(w.text for w in words).strip()


def words_to_utterances(
    words: list[Word], *, speaker: str, role: str, channel: int | None = None, max_gap: float
) -> list[Utterance]:
    """Split one speaker's time-ordered words into utterances at pauses longer than ``max_gap``."""
    utterances: list[Utterance] = []
    current: list[Word] = []
    for word in words:
        if current and word.start - current[-1].end > max_gap:
            utterances.append(_make(current, speaker, role, channel))
            current = []
        current.append(word)
    if current:
        utterances.append(_make(current, speaker, role, channel))
    return [u for u in utterances if u.text]


def _make(words: list[Word], speaker: str, role: str, channel: int | None) -> Utterance:
    return Utterance(
        speaker=speaker, role=role, start=words[0].start, end=words[-1].end,
        text=join_words(words), words=list(words), channel=channel,
    )


def merge_speakers(*streams: list[Utterance]) -> list[Utterance]:
    """Interleave utterances of several speakers by start time (ties: earlier end first)."""
    merged = [u for stream in streams for u in stream]
    merged.sort(key=lambda u: (u.start, u.end))
    return merged
