"""Configuration: built-in defaults, one TOML file, then CALLQA_* environment overrides.

An environment variable ``CALLQA_<SECTION>__<KEY>`` overrides ``[section] key`` in the file,
e.g. ``CALLQA_ASR__DEVICE=cuda`` or ``CALLQA_WAREHOUSE__DB=/data/qa.duckdb``. Values are
parsed as TOML literals when they parse (numbers, booleans, lists), else kept as strings.
"""
from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_NAME = "callqa.toml"

DEFAULTS: dict[str, Any] = {
    "asr": {
        "model": "base",              # "base" = the bundled Whisper base, or a CTranslate2 folder
        "device": "cpu",              # cpu | cuda | auto
        "compute_type": "int8",       # int8 on cpu, float16 on cuda
        "cpu_threads": 2,
        "num_workers": 1,
        "beam_size": 5,
        "language": "zh",
        "batched": False,             # faster-whisper BatchedInferencePipeline (GPU)
        "batch_size": 8,
        "vad_threshold": 0.45,
        "vad_min_silence_ms": 600,
        "vad_speech_pad_ms": 200,
        "no_speech_threshold": 0.6,
        "log_prob_threshold": -1.0,
        "compression_ratio_threshold": 2.4,
        "phantom_phrases": "speech/data/phantom_phrases.txt",
    },
    "audio": {
        "sample_rate": 16000,
        "target_peak_dbfs": -3.0,
        "max_gain_db": 40.0,
        "max_file_mb": 512,
        "max_duration_s": 4 * 3600,
        "decode_timeout_s": 300,
    },
    "diarization": {
        "mono_backend": "pyannote",   # pyannote | none
        "pipeline_dir": "",           # a local pyannote pipeline folder; "" = embedded default
        "num_speakers": 2,
        "max_speakers": 0,            # 3 to allow a third voice (relative taking the phone); 0 = exactly num_speakers
        "device": "cpu",
    },
    "roles": {
        "channels": ["collector", "customer"],   # channel index -> role for stereo calls
    },
    "utterances": {
        "max_gap_s": 1.2,             # split one speaker's words into utterances on longer gaps
    },
    "archive": {
        "patterns": ["*.wav", "*.mp3", "*.m4a", "*.amr", "*.flac", "*.ogg", "*.opus", "*.aac", "*.wma", "*.mp4"],
        "exclude": [],                # e.g. ["*.tmp.wav"]
    },
    "compliance": {
        "calling_hours_start": "08:00",
        "calling_hours_end": "21:00",
        "default_timezone": "Asia/Shanghai",
        "max_attempts_7d": 7,
        "cooldown_days_after_contact": 7,
    },
    "warehouse": {
        "db": "var/callqa.duckdb",
        "store_raw_text": False,
        "retention_days": 730,
    },
    "flow": {
        "workers": 1,                 # calls processed in parallel (threads, or Dask worker processes)
        "batch_size": 16,             # calls landed per DuckDB transaction
        "task_runner": "threads",     # threads | dask
        "dask_address": "",           # tcp://scheduler:8786 of an existing Dask cluster; "" = local cluster
        "staging_dir": "",            # per-call Parquet between workers and writer; "" = <db folder>/staging
    },
}


@dataclass
class Config:
    """Resolved configuration (sections as plain dicts) and where it came from."""

    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    source: Path | None = None

    def section(self, name: str) -> dict[str, Any]:
        return self.data[name]

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.data[section][key]

    def with_overrides(self, overrides: dict[str, Any]) -> "Config":
        """A copy with ``{"section.key": value}`` overrides applied (None values ignored)."""
        data = copy.deepcopy(self.data)
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, key = dotted.split(".", 1)
            data.setdefault(section, {})[key] = value
        return Config(data, self.source)


def _merge(base: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for key, value in extra.items():
        if key not in base:
            raise ValueError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: [{key}] must be a table")
            _merge(base[key], value, f"{where} [{key}]")
        else:
            base[key] = value


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load defaults, then the TOML file, then environment overrides.

    Args:
        path: a TOML file; default ``$CALLQA_CONFIG`` or ``./callqa.toml`` if it exists.
        environ: environment to read overrides from (default ``os.environ``).
    Returns:
        The resolved Config.
    Raises:
        ValueError: unknown sections/keys or an unreadable file.
    """
    env = os.environ if environ is None else environ
    data = copy.deepcopy(DEFAULTS)
    source: Path | None = None
    candidate = path or env.get("CALLQA_CONFIG")
    if candidate is None and Path(DEFAULT_CONFIG_NAME).is_file():
        candidate = DEFAULT_CONFIG_NAME
    if candidate is not None:
        source = Path(candidate)
        try:
            file_data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config {source}: {exc}") from exc
        _merge(data, file_data, str(source))
    for name, raw in env.items():
        if not name.startswith("CALLQA_") or "__" not in name:
            continue
        section, key = name[len("CALLQA_"):].lower().split("__", 1)
        if section not in data or key not in data[section]:
            raise ValueError(f"environment {name}: unknown setting {section}.{key}")
        data[section][key] = _parse_env_value(raw)
    return Config(data, source)
