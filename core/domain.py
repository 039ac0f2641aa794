"""Domain types shared by every package: what a call is, what was said, what was found.

Times are seconds from the start of the recording. Text is Simplified Chinese.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


def storable(text: str | None) -> str | None:
    """Text safe to store: undecodable file-name bytes (surrogate escapes) become U+FFFD."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


Role = Literal["collector", "customer", "third_party", "unknown"]
PARTY_ROLES: tuple[str, ...] = ("collector", "customer", "third_party")   # who can be on a call
ROLES: tuple[str, ...] = PARTY_ROLES + ("unknown",)                       # plus: not yet known


def norm_role(role: str | None) -> str:
    """A role from the vocabulary (case and spaces ignored); anything else is ``unknown``."""
    role = (role or "").strip().lower()
    return role if role in ROLES else "unknown"


Sentiment = Literal["negative", "neutral", "positive"]
Severity = Literal["info", "low", "medium", "high", "critical"]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word (for Chinese usually one or two characters)."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(slots=True)
class Utterance:
    """A stretch of speech by one speaker.

    Attributes:
        speaker: diarization label ("ch0", "ch1", "SPEAKER_00", ...).
        role: collector, customer, third_party or unknown.
        channel: source channel for stereo calls, None for mono.
        labels / sentiment: filled in by analysis.
    """

    speaker: str
    role: str
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    channel: int | None = None
    labels: list[str] = field(default_factory=list)
    sentiment: str = "neutral"

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(slots=True)
class Finding:
    """Something a QA reviewer should look at.

    Attributes:
        kind: a label from LABELS.md (abuse, threat, privacy, pii, self_harm, ...)
            or a call-level kind (missing_steps, negative_trajectory, ...).
        role: who said it (for call-level findings: whose conduct it concerns).
        utterance_index: index into the call's utterances, None for call-level findings.
        evidence: the text that triggered it (redacted wherever it is stored).
        rule_id: id of the matched rule in the rule pack, or model name.
        score: rule confidence or model probability, 0..1.
        severity: info, low, medium, high or critical.
        amount / due: only on `promise_to_pay` findings: the promised amount in yuan and
            the due date (``YYYY-MM-DD``, ``YYYY-MM`` or None), see `Promise`.
    """

    kind: str
    role: str
    start: float
    end: float
    evidence: str
    rule_id: str
    score: float = 1.0
    severity: str = "medium"
    utterance_index: int | None = None
    amount: float | None = None
    due: str | None = None


@dataclass(frozen=True, slots=True)
class Promise:
    """A promise to pay said in one utterance (LABELS.md, "Call outcomes").

    Attributes:
        amount: yuan (三千五 = 3500.0), None when no amount was said.
        due: the date named, resolved against the call's local start: ``YYYY-MM-DD``,
            ``YYYY-MM`` when only a month was named (下个月), None when no date was named
            (发工资以后) or the call's start is unknown.
    """

    amount: float | None = None
    due: str | None = None

    def as_dict(self) -> dict[str, float | int | str | None]:
        """``{"amount": 3000, "due": "2026-11-13"}``: whole amounts as int (JSON rows)."""
        amount: float | int | None = self.amount
        if amount is not None and float(amount).is_integer():
            amount = int(amount)
        return {"amount": amount, "due": self.due}


@dataclass(slots=True)
class Call:
    """One recording and what is known about it before processing."""

    call_id: str
    path: str
    sha256: str = ""
    size_bytes: int = 0
    collector_id: str | None = None
    account_id: str | None = None
    started_at: datetime | None = None
    timezone: str | None = None
    direction: str | None = None
    campaign: str | None = None
    team: str | None = None
    channel_roles: tuple[str, ...] | None = None
    mtime_ns: int | None = None   # the file's modification time when it was hashed (None: do not trust)


@dataclass(slots=True)
class RoleMetrics:
    """Measurements for one role, or for the whole call when ``role == "all"``.

    Attributes:
        talk_s: seconds this role was speaking (union of its utterances).
        talk_share: talk_s / call duration.
        speech_rate_cpm: characters per minute of talk (CJK characters, else words).
        interruptions: utterances that started while another role was still speaking
            and overlapped it by at least 0.3 s (made by this role).
        overlap_s: seconds this role spoke over someone else.
        silence_s: (``all`` only) seconds nobody spoke.
        loudness_dbfs: mean RMS level of this role's speech in the original recording.
    """

    role: str
    n_utterances: int
    talk_s: float
    talk_share: float
    n_chars: int
    speech_rate_cpm: float
    interruptions: int
    overlap_s: float
    silence_s: float | None
    loudness_dbfs: float | None


@dataclass(slots=True)
class ProcessedCall:
    """Everything one recording produced, ready to land.

    Attributes:
        diarization: how speakers were separated: channel, pyannote or none.
        roles_confidence: how sure the role assignment is (0..1); needs_review when unsure.
        timings: seconds spent per stage (decode, asr, diarization, analysis, ...).
        disposition: whom the call reached (analysis.disposition: right_party, third_party,
            wrong_number, no_answer, unknown); None when not computed.
    """

    call: Call
    duration: float
    channels: int
    source_rate: int
    codec: str
    utterances: list[Utterance]
    findings: list[Finding]
    metrics: list[RoleMetrics]
    diarization: str
    asr_model: str
    roles_confidence: float | None = None
    needs_review: bool = False
    role_notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    raw_texts: list[str] | None = None     # unredacted utterance texts, only when storing raw text
    scores: list["CallScore"] = field(default_factory=list)  # one per configured scorecard
    disposition: str | None = None   # right_party | third_party | wrong_number | no_answer | unknown


@dataclass(frozen=True, slots=True)
class ItemScore:
    """One scorecard item's result for one call.

    Attributes:
        result: pass, fail or na (the item does not apply to this call: not counted).
        points: ``weight`` when passed, else 0.
        fatal: a fatal item (致命项): failing it sets the call's score to 0.
        evidence: why, as redacted text (a finding's evidence, a measured value); never raw text.
        finding_id: the finding the result rests on (``<call_id>#<n>``), when there is one.
    """

    item_id: str
    section: str
    title: str
    result: str
    points: float
    weight: float
    fatal: bool
    evidence: str | None = None
    finding_id: str | None = None


@dataclass(slots=True)
class CallScore:
    """A call scored against one version of one scorecard: ``score`` 0-100 (None when no item
    applies), 0 with ``fatal`` set when a fatal item failed."""

    call_id: str
    scorecard: str
    version: str
    score: float | None
    fatal: bool
    items: list[ItemScore]


@dataclass(slots=True)
class CallView:
    """What scoring reads about one call, the same at landing (from a ProcessedCall) and when
    re-scoring (from warehouse rows, no re-transcription): utterances (role, times, labels,
    sentiment, redacted text), findings with their ids, and metrics per role."""

    call_id: str
    duration: float
    utterances: list[Utterance]
    findings: list[Finding]
    finding_ids: list[str]
    metrics: list[RoleMetrics]

    @classmethod
    def of(cls, result: ProcessedCall) -> "CallView":
        """The view of a processed call (finding ids as landing numbers them)."""
        cid = result.call.call_id
        return cls(cid, result.duration, result.utterances, result.findings,
                   [f"{cid}#{n}" for n in range(len(result.findings))], result.metrics)


@dataclass(slots=True)
class Failure:
    """Why one recording (or manifest row) could not be processed.

    Attributes:
        stage: discover, manifest, decode, asr, diarization, analysis or land.
        reason: a short code (decode_error, empty_audio, too_long, path_not_found, ...).
        message: what happened and what to do, without any transcript text.
        deterministic: True when retrying the same bytes cannot help.
    """

    call_id: str | None
    path: str | None
    sha256: str | None
    stage: str
    reason: str
    message: str
    deterministic: bool = True
