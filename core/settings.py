"""Settings: one typed, frozen object per config section, built only by ``load_settings``.

Defaults live here and nowhere else: the field defaults below (and, for ``[compliance]``, a
named rule profile in core/compliance_profiles/ over them). Then one TOML file, then
environment overrides ``CALLQA_<SECTION>__<KEY>`` (e.g. ``CALLQA_ASR__DEVICE=cuda`` or
``CALLQA_WAREHOUSE__DB=/data/qa.duckdb``), parsed as TOML literals when they parse
(numbers, booleans, lists), else kept as strings. Unknown sections or keys and values of the
wrong type are errors naming the key. Code below the CLI receives these objects and never
repeats a default.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG_NAME = "callqa.toml"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SCORECARD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class AsrSettings:
    """faster-whisper: which model, where it runs, how it decodes (hashable: one loaded
    model per distinct value)."""

    model: str = "base"              # "base" = the bundled Whisper base, or a CTranslate2 folder
    device: str = "cpu"              # cpu | cuda | auto
    compute_type: str = "int8"       # int8 on cpu, float16 on cuda
    cpu_threads: int = 2
    num_workers: int = 1
    beam_size: int = 8               # 5 -> 8: dev CER (28 calls, numbers normalised) 10.3 -> 9.9 % (bench/README.md round 4)
    language: str = "zh"
    batched: bool = False            # faster-whisper BatchedInferencePipeline (GPU)
    batch_size: int = 8
    vad_threshold: float = 0.45      # 0.35 (+ pad 400): dev CER 13.6 -> 12.2 %, blind calls 17.6 -> 20.0 % (bench/README.md)
    vad_min_silence_ms: int = 600
    vad_speech_pad_ms: int = 200     # 400 helped turn starts on dev calls, dropped whole turns on blind ones
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    phantom_phrases: str = "speech/data/phantom_phrases.txt"
    # Domain vocabulary (信用卡, 逾期, 还款 ...) shown to Whisper: a text file, one term per line,
    # "#" comments; relative paths are under the project folder, like phantom_phrases.
    vocabulary: str = "speech/data/collection_vocabulary.txt"
    vocabulary_mode: str = "hotwords"  # off | hotwords (every window) | prompt (initial_prompt); bench/README.md
    # Decoding (faster-whisper's options of the same names; bench/README.md "ASR accuracy, round 2").
    patience: float = 1.0            # beam search patience: 2.0 keeps searching twice as long
    best_of: int = 5                 # candidates when sampling at a fallback temperature
    temperature_step: float = 0.2    # fallback temperatures 0, step, 2*step ... 1.0 (0 = no fallback)
    repetition_penalty: float = 1.0  # > 1 penalises tokens already written
    no_repeat_ngram_size: int = 0    # > 0 forbids repeating n-grams of this size
    condition_on_previous_text: bool = False
    hallucination_silence_s: float = 2.0  # skip silence this long around a suspected hallucination (0 = off)
    recover_min_s: float = 1.0       # speech this long that Whisper left without words is decoded again alone (0 = off)
    # Terms put back where Whisper wrote a homophone (于七 -> 逾期), when the collection language
    # model prefers them by correction_margin (log10); speech/term_correction.py, bench/README.md.
    correction: bool = True
    correction_terms: str = "speech/data/correction_terms.txt"   # with the vocabulary's terms
    correction_lm: str = "speech/data/collection_lm.json.gz"      # analysis.training.train_char_lm
    correction_margin: float = 2.0        # log10 gain a stretch needs to become a term
    correction_word_margin: float = 6.5   # the same for a stretch that is a common word itself (合适)
    correction_blur_cost: float = 2.0     # one syllable may match blurred (zh/z, in/ing ...) for this much more gain (0 = never)
    # Single characters put back where Whisper wrote a homophone the sentence rejects (在不海 ->
    # 再不还, 女是 -> 女士), by the same language model; speech/homophone_correction.py, bench/README.md.
    homophones: bool = True
    homophone_margin: float = 4.0         # log10 gain a character needs to become its homophone
    homophone_word_margin: float = 2.0    # more when it is part of a common word as written
    homophone_edge_margin: float = 2.0    # more at either end of a stretch of speech (context on one side)
    # Whisper's beam n-best re-ranked by Whisper and the same language model together, before the
    # words are aligned (福导员 -> 辅导员); speech/nbest_rescoring.py, bench/README.md round 7.
    rescore_hypotheses: int = 8           # finished readings per window to choose from (capped at beam_size; 1 = off)
    rescore_weight: float = 0.3           # the language model's log probability, times this, is added (0 = Whisper's own)
    # The same language model fused into the beam search itself (speech/lm_fusion.py, bench/README.md
    # round 8): every extension of a reading is scored by both while Whisper searches. Off: 0.1 / 0.3
    # gained on dev calls and lost on new ones.
    fusion_weight: float = 0.0            # the language model's log probability, times this, in every step (0 = off)
    fusion_bonus: float = 0.0             # nats added per speech character, against the pull to shorter text

    def __post_init__(self) -> None:
        for name, ok, what in (
            ("beam_size", self.beam_size >= 1, ">= 1"),
            ("patience", self.patience > 0, "> 0"),
            ("best_of", self.best_of >= 1, ">= 1"),
            ("temperature_step", 0 <= self.temperature_step <= 1, "between 0 and 1"),
            ("repetition_penalty", self.repetition_penalty > 0, "> 0"),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0, ">= 0"),
            ("hallucination_silence_s", self.hallucination_silence_s >= 0, ">= 0"),
            ("vad_threshold", 0 < self.vad_threshold < 1, "between 0 and 1"),
            ("vad_min_silence_ms", self.vad_min_silence_ms >= 0, ">= 0"),
            ("vad_speech_pad_ms", self.vad_speech_pad_ms >= 0, ">= 0"),
            ("correction_margin", self.correction_margin >= 0, ">= 0"),
            ("correction_word_margin", self.correction_word_margin >= 0, ">= 0"),
            ("correction_blur_cost", self.correction_blur_cost >= 0, ">= 0"),
            ("homophone_margin", self.homophone_margin >= 0, ">= 0"),
            ("homophone_word_margin", self.homophone_word_margin >= 0, ">= 0"),
            ("homophone_edge_margin", self.homophone_edge_margin >= 0, ">= 0"),
            ("recover_min_s", self.recover_min_s >= 0, ">= 0"),
            ("rescore_hypotheses", self.rescore_hypotheses >= 1, ">= 1"),
            ("rescore_weight", self.rescore_weight >= 0, ">= 0"),
            ("fusion_weight", self.fusion_weight >= 0, ">= 0"),
            ("fusion_bonus", self.fusion_bonus >= 0, ">= 0"),
        ):
            if not ok:
                raise ValueError(f"asr.{name} must be {what}, not {getattr(self, name)!r}")
        if self.vocabulary_mode not in VOCABULARY_MODES:
            raise ValueError(f"asr.vocabulary_mode must be one of {', '.join(VOCABULARY_MODES)},"
                             f" not {self.vocabulary_mode!r}")
        if self.vocabulary_mode != "off" or self.correction:
            vocabulary_terms(self.vocabulary)  # unreadable or empty: a configuration error now
        if self.correction:
            vocabulary_terms(self.correction_terms, "asr.correction_terms")
        if self.fusion_weight > 0 and self.device != "cpu":
            raise ValueError("asr.fusion_weight > 0 needs asr.device \"cpu\" (the fused search's decoder runs"
                             " in torch on the CPU)")
        if self.fusion_weight > 0 and (self.repetition_penalty != 1 or self.no_repeat_ngram_size):
            raise ValueError("asr.fusion_weight > 0 needs asr.repetition_penalty 1 and asr.no_repeat_ngram_size 0"
                             " (the fused search does not apply them)")
        if self.correction or self.homophones or self.rescore_hypotheses > 1 or self.fusion_weight > 0:
            if not project_path(self.correction_lm).is_file():
                raise ValueError(f"asr.correction_lm: no file {project_path(self.correction_lm)}")


VOCABULARY_MODES = ("off", "hotwords", "prompt")
_PROJECT = Path(__file__).resolve().parents[1]


def project_path(path: str) -> Path:
    """A configured file path: absolute as given, relative ones under the project folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else _PROJECT / p


def vocabulary_terms(path: str, setting: str = "asr.vocabulary") -> tuple[str, ...]:
    """The terms of an ``asr.vocabulary`` file (one per line, blank lines and ``#`` comments
    skipped), in file order, each once.

    Raises:
        ValueError: the file cannot be read as UTF-8 text or holds no term (one line, naming it).
    """
    where = project_path(path)
    try:
        lines = where.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ValueError(f"{setting}: cannot read {where}: {reason}") from None
    terms = tuple(dict.fromkeys(s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")))
    if not terms:
        raise ValueError(f"{setting}: {where} holds no term (one per line, # for comments)")
    return terms


MODEL_SAMPLE_RATE = 16000   # what Whisper, its VAD and the diarization models take


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """Decoding limits and the gain normalisation applied before VAD."""

    sample_rate: int = MODEL_SAMPLE_RATE   # the pipeline decodes at the models' rate (Settings checks it);
                                           # only the report's clip export decodes at the source rate
    target_peak_dbfs: float = -3.0
    max_gain_db: float = 40.0        # cap so a channel of line noise is not blown up into "speech"
    max_file_mb: float = 512.0
    max_duration_s: float = 4 * 3600.0
    decode_timeout_s: float = 300.0


@dataclass(frozen=True, slots=True)
class DiarizationSettings:
    """Who spoke when on mono calls."""

    mono_backend: str = "pyannote"   # pyannote | none
    pipeline_dir: str = ""           # a local pyannote pipeline folder; "" = embedded default
    num_speakers: int = 2
    max_speakers: int = 0            # 3 allows a third voice (a relative taking the phone); 0 = exactly num_speakers
    device: str = "cpu"
    # the embedded pipeline's parameters (an operator's pipeline_dir keeps the ones in its config.yaml)
    segmentation_threshold: float = 0.45   # speech activity threshold of the segmentation model
    clustering_threshold: float = 0.5      # average-linkage cosine distance at which speakers stop merging
    min_duration_off: float = 0.4          # a speaker's pauses shorter than this are bridged (s)
    # post-processing, any pipeline
    island_max_s: float = 0.5              # turns shorter than this go to the nearest neighbour's speaker; 0 = off
    bridge_max_s: float = 0.0              # after that, a speaker's turns closer than this with nobody between are joined (s); 0 = min_duration_off
    # re-segmentation: turns cut at pauses, each piece moved to the speaker whose voice print it matches
    resegment_pause_s: float = 0.4         # cut at pauses at least this long (s); 0 = off
    resegment_min_s: float = 0.5           # pieces shorter than this are not judged (too little voice)
    resegment_margin: float = 0.1          # cosine similarity by which another speaker's print must win
    # turn edges moved to where the audio's energy says speech starts/ends
    snap_max_shift_s: float = 0.3          # how far an edge may move (s); 0 = off
    snap_rel_db: float = 40.0              # speech = frames within this many dB of the loudest frames
    pad_s: float = 0.02                    # then each turn widened by this much on both sides (s); 0 = off

    def __post_init__(self) -> None:
        if self.mono_backend not in ("pyannote", "none"):
            raise ValueError(f"diarization.mono_backend must be pyannote or none, not {self.mono_backend!r}")
        if self.num_speakers < 1 or (self.max_speakers and self.max_speakers < self.num_speakers):
            raise ValueError("diarization: num_speakers must be >= 1 and max_speakers 0 or >= num_speakers")
        for key in ("segmentation_threshold", "clustering_threshold"):
            if not 0.0 < getattr(self, key) < 1.0:
                raise ValueError(f"diarization.{key} must be between 0 and 1, not {getattr(self, key)}")
        for key, low, high, unit in (("min_duration_off", 0, 2, " s"), ("island_max_s", 0, 2, " s"),
                                     ("bridge_max_s", 0, 2, " s"), ("resegment_pause_s", 0, 2, " s"),
                                     ("resegment_min_s", 0.3, 10, " s"), ("resegment_margin", 0, 1, ""),
                                     ("snap_max_shift_s", 0, 2, " s"), ("pad_s", 0, 0.5, " s"),
                                     ("snap_rel_db", 10, 80, " dB")):
            if not low <= getattr(self, key) <= high:
                raise ValueError(f"diarization.{key} must be {low:g}-{high:g}{unit}, not {getattr(self, key)}")


@dataclass(frozen=True, slots=True)
class RolesSettings:
    channels: tuple[str, ...] = ("collector", "customer")   # channel index -> role on stereo calls

    def __post_init__(self) -> None:
        from core.domain import ROLES

        bad = [r for r in self.channels if r not in ROLES]
        if bad:
            raise ValueError(f"roles.channels: {bad} not among {', '.join(ROLES)}")


@dataclass(frozen=True, slots=True)
class UtterancesSettings:
    max_gap_s: float = 1.2           # split one speaker's words into utterances on longer pauses


@dataclass(frozen=True, slots=True)
class ArchiveSettings:
    patterns: tuple[str, ...] = ("*.wav", "*.mp3", "*.m4a", "*.amr", "*.flac", "*.ogg", "*.opus", "*.aac",
                                 "*.wma", "*.mp4")
    exclude: tuple[str, ...] = ()    # e.g. ("*.tmp.wav",)


COLLECTION_RULES = ("calling_hours", "attempts_7d", "cooldown_after_contact", "effective_calls_per_day",
                    "unanswered_per_number_per_day", "third_party_after_failed_attempts", "cease_contact")
PROFILES_DIR = Path(__file__).with_name("compliance_profiles")


def compliance_profiles() -> list[str]:
    """Names of the rule profiles shipped as data (``core/compliance_profiles/<name>.yaml``)."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def compliance_profile(name: str) -> dict[str, Any]:
    """The ``[compliance]`` values of a rule profile (its keys other than name/description/sources).

    Raises:
        ValueError: no such profile.
    """
    import yaml

    if name not in compliance_profiles():
        raise ValueError(f"compliance.profile: unknown profile {name!r} (known: {', '.join(compliance_profiles())})")
    data = yaml.safe_load((PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8")) or {}
    return {k: v for k, v in data.items() if k not in ("name", "description", "sources")} | {"profile": name}


def _with_profile(settings: "Settings", file_data: dict[str, Any], env: Mapping[str, str]) -> "Settings":
    """Defaults with the named rule profile's values applied: the layer under the config file
    and the environment, so that every key set there overrides the profile's value."""
    section = file_data.get("compliance")
    name = env.get("CALLQA_COMPLIANCE__PROFILE", section.get("profile", "") if isinstance(section, dict) else "")
    if not name:
        return settings
    if not isinstance(name, str):
        raise ValueError(f"compliance.profile must be a string, got {name!r}")
    return _build({"compliance": compliance_profile(name)}, base=settings, where=f"profile {name}")


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """The calling rules' parameters (cross-call checks in the warehouse).

    ``profile`` names a rule profile (cn-2025, cba-2026, us-regf: core/compliance_profiles/):
    it sets which ``rules`` apply and their numbers; any key also set in the config file or
    the environment overrides the profile's value. Without a profile the defaults below apply.
    """

    calling_hours_start: str = "08:00"
    calling_hours_end: str = "21:00"
    default_timezone: str = "Asia/Shanghai"
    max_attempts_7d: int = 7
    cooldown_days_after_contact: int = 7
    profile: str = ""                          # "" | cn-2025 | cba-2026 | us-regf
    rules: tuple[str, ...] = ("calling_hours", "attempts_7d", "cooldown_after_contact", "cease_contact")
    max_effective_calls_per_day: int = 3       # effective_calls_per_day: connected, spoken calls per debtor a day
    max_unanswered_per_number_per_day: int = 6  # unanswered_per_number_per_day
    third_party_after_failed_attempts: int = 3  # consecutive failed attempts before a third party may be called
    attempt_match_s: int = 120                 # a recording and a dialer attempt of one account this close are one call

    def __post_init__(self) -> None:
        if self.profile and self.profile not in compliance_profiles():
            raise ValueError(f"compliance.profile: unknown profile {self.profile!r}"
                             f" (known: {', '.join(compliance_profiles())})")
        unknown = [r for r in self.rules if r not in COLLECTION_RULES]
        if unknown:
            raise ValueError(f"compliance.rules: unknown rule(s) {unknown} (known: {', '.join(COLLECTION_RULES)})")
        for key in ("max_effective_calls_per_day", "max_unanswered_per_number_per_day",
                    "third_party_after_failed_attempts", "attempt_match_s"):
            if getattr(self, key) < 0:
                raise ValueError(f"compliance.{key} must be a whole number >= 0, got {getattr(self, key)!r}")
        for key in ("calling_hours_start", "calling_hours_end"):
            if not _HHMM.match(getattr(self, key)):
                raise ValueError(f"compliance.{key} must be HH:MM, got {getattr(self, key)!r}")
        if self.calling_hours_start >= self.calling_hours_end:
            raise ValueError(f"compliance.calling_hours_start ({self.calling_hours_start}) must be before"
                             f" calling_hours_end ({self.calling_hours_end})")
        try:
            ZoneInfo(self.default_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"compliance.default_timezone: unknown timezone {self.default_timezone!r}") from exc
        for key in ("max_attempts_7d", "cooldown_days_after_contact"):
            if getattr(self, key) < 0:
                raise ValueError(f"compliance.{key} must be a whole number >= 0, got {getattr(self, key)!r}")


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Rule packs beyond the built-in ones (analysis.rules.Catalog)."""

    rules_dirs: tuple[str, ...] = ()  # folders of *.yaml packs: a built-in's name replaces it, a new name adds a category


@dataclass(frozen=True, slots=True)
class WarehouseSettings:
    db: str = "var/callqa.duckdb"
    store_raw_text: bool = False     # unredacted text in utterances_raw (grant separately)
    retention_days: int = 730


@dataclass(frozen=True, slots=True)
class FlowSettings:
    workers: int = 1                 # calls processed in parallel (threads, or Dask worker processes)
    batch_size: int = 16             # calls landed per DuckDB transaction
    task_runner: str = "threads"     # threads | dask
    dask_address: str = ""           # tcp://scheduler:8786 of an existing Dask cluster; "" = local cluster
    staging_dir: str = ""            # per-call Parquet between workers and writer; "" = <db folder>/staging

    def __post_init__(self) -> None:
        if self.task_runner not in ("threads", "dask"):
            raise ValueError(f"flow.task_runner must be threads or dask, not {self.task_runner!r}")
        if self.workers < 1 or self.batch_size < 1:
            raise ValueError("flow.workers and flow.batch_size must be >= 1")


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """QA scorecards (质检评分表) every landed call is scored against: YAML files named
    ``<name>.yaml`` in ``scorecards_dir`` (relative paths are under the project folder, like
    ``asr.phantom_phrases``); ``scorecards = []`` scores nothing."""

    scorecards_dir: str = "scorecards"
    scorecards: tuple[str, ...] = ("cuishou-default",)

    def __post_init__(self) -> None:
        bad = [n for n in self.scorecards if not _SCORECARD_NAME.match(n)]
        if bad:
            raise ValueError(f"scoring.scorecards: {bad} are not scorecard names (letters, digits, - _ .;"
                             " the file name without .yaml)")
        if len(set(self.scorecards)) != len(self.scorecards):
            raise ValueError(f"scoring.scorecards: a name is given twice in {list(self.scorecards)}")


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """`callqa report`: the default window and what bounds the report's size."""

    days: int = 7                    # default window: the last N days (--since/--until override)
    max_call_pages: int = 2000       # call pages (with audio) at most: sampled, reviewed, then most severe; 0 = no cap
    page_size: int = 500             # rows per page of the call list and the review queue

    def __post_init__(self) -> None:
        if self.days < 1 or self.page_size < 1:
            raise ValueError("report.days and report.page_size must be >= 1")
        if self.max_call_pages < 0:
            raise ValueError("report.max_call_pages must be >= 0 (0: no cap)")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every section, resolved; ``source`` is the TOML file read (None: defaults only)."""

    asr: AsrSettings = field(default_factory=AsrSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    diarization: DiarizationSettings = field(default_factory=DiarizationSettings)
    roles: RolesSettings = field(default_factory=RolesSettings)
    utterances: UtterancesSettings = field(default_factory=UtterancesSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.audio.sample_rate != MODEL_SAMPLE_RATE:   # any other rate reached Whisper as if it were 16 kHz
            raise ValueError(f"audio.sample_rate must be {MODEL_SAMPLE_RATE} (the rate Whisper and the diarization"
                             f" models take), not {self.audio.sample_rate}")

    def with_overrides(self, overrides: dict[str, Any]) -> "Settings":
        """A copy with ``{"section.key": value}`` applied (None values ignored), type-checked
        like the file."""
        changes: dict[str, dict[str, Any]] = {}
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, key = dotted.partition(".")
            changes.setdefault(section, {})[key] = value
        return _build(changes, base=self, where="override")

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain values per section (for the run record; no secrets are held here)."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}


_HINTS = typing.get_type_hints(Settings)
SECTIONS: dict[str, type] = {f.name: _HINTS[f.name] for f in fields(Settings) if f.name != "source"}


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """``value`` as the field's type, or ValueError naming the key."""
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, Path):
            return str(value)
    elif typing.get_origin(hint) is tuple:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    kind = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(hint, "a list of strings")
    raise ValueError(f"{where} must be {kind}, got {value!r}")


def _build(changes: dict[str, dict[str, Any]], *, base: Settings, where: str) -> Settings:
    sections: dict[str, Any] = {}
    for section, values in changes.items():
        if section not in SECTIONS:
            raise ValueError(f"{where}: unknown section [{section}] (known: {', '.join(SECTIONS)})")
        cls = SECTIONS[section]
        if not isinstance(values, dict):
            raise ValueError(f"{where}: [{section}] must be a table")
        hints = typing.get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        typed = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{where}: unknown setting {section}.{key} (known: {', '.join(known)})")
            typed[key] = _coerce(f"{where}: {section}.{key}", hints[key], value)
        sections[section] = dataclasses.replace(getattr(base, section), **typed)
    return dataclasses.replace(base, **sections)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def load_settings(path: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then environment overrides.

    Args:
        path: a TOML file; default ``$CALLQA_CONFIG`` or ``./callqa.toml`` if it exists.
        environ: environment to read overrides from (default ``os.environ``).
    Raises:
        ValueError: an unreadable file, unknown sections/keys, or a value of the wrong type.
    """
    env = os.environ if environ is None else environ
    candidate = path or env.get("CALLQA_CONFIG")
    if candidate is None and Path(DEFAULT_CONFIG_NAME).is_file():
        candidate = DEFAULT_CONFIG_NAME
    file_data: dict[str, Any] = {}
    if candidate is not None:
        source = Path(candidate)
        try:
            file_data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config {source}: {exc}") from exc
    settings = _with_profile(Settings(), file_data, env)  # [compliance] profile: under the file and environment
    if candidate is not None:
        settings = dataclasses.replace(_build(file_data, base=settings, where=str(source)), source=source)
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith("CALLQA_") or "__" not in name:
            continue
        section, key = name[len("CALLQA_"):].lower().split("__", 1)
        hint = typing.get_type_hints(SECTIONS[section]).get(key) if section in SECTIONS else None
        if hint is None:
            raise ValueError(f"environment {name}: unknown setting {section}.{key}")
        overrides.setdefault(section, {})[key] = raw if hint is str else _parse_env_value(raw)
    if overrides:
        settings = _build(overrides, base=settings, where="environment")
    return settings

