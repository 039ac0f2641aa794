from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from core.settings import AsrSettings, AudioSettings, Settings, load_settings


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.source is None
    assert settings.asr.language == "zh"
    assert settings.compliance.calling_hours_end == "21:00"
    assert settings == Settings()                      # the defaults live in the dataclasses only
    assert settings.audio.max_gain_db == AudioSettings().max_gain_db == 40.0
    with pytest.raises(FrozenInstanceError):
        settings.asr.device = "cuda"  # type: ignore[misc]


def test_file_then_environment(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[asr]\ndevice = "cuda"\ncpu_threads = 4\n[compliance]\ncalling_hours_end = "22:00"\n'
                 '[audio]\nmax_file_mb = 100\n')
    settings = load_settings(f, environ={"CALLQA_ASR__CPU_THREADS": "8", "CALLQA_WAREHOUSE__DB": "/tmp/x.duckdb",
                                         "CALLQA_ARCHIVE__PATTERNS": '["*.wav"]', "CALLQA_ASR__MODEL": "123",
                                         "OTHER": "1"})
    assert settings.source == f
    assert settings.asr.device == "cuda"
    assert settings.asr.cpu_threads == 8               # env beats file, parsed as a number
    assert settings.asr.model == "123"                 # a string setting keeps the raw text
    assert settings.warehouse.db == "/tmp/x.duckdb"    # not TOML: kept as a string
    assert settings.archive.patterns == ("*.wav",)
    assert settings.audio.max_file_mb == 100.0 and isinstance(settings.audio.max_file_mb, float)
    assert settings.compliance.calling_hours_end == "22:00"
    assert isinstance(settings.asr, AsrSettings) and hash(settings.asr)   # one loaded model per value


def test_unknown_settings_and_wrong_types_are_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[asr]\ndevise = 'cuda'\n")
    with pytest.raises(ValueError, match="devise"):
        load_settings(f, environ={})
    f.write_text("[asrr]\ndevice = 'cuda'\n")
    with pytest.raises(ValueError, match=r"unknown section \[asrr\]"):
        load_settings(f, environ={})
    f.write_text("[flow]\nworkers = 'four'\n")
    with pytest.raises(ValueError, match="flow.workers must be a whole number"):
        load_settings(f, environ={})
    f.write_text("[warehouse]\nstore_raw_text = 1\n")
    with pytest.raises(ValueError, match="store_raw_text must be true or false"):
        load_settings(f, environ={})
    with pytest.raises(ValueError, match="CALLQA_ASR__NOPE"):
        load_settings(None, environ={"CALLQA_ASR__NOPE": "1"})
    with pytest.raises(ValueError, match="cannot read config"):
        load_settings(None, environ={"CALLQA_CONFIG": str(Path(f).with_name("none.toml"))})
    with pytest.raises(ValueError, match="calling_hours_start must be HH:MM"):
        load_settings(None, environ={"CALLQA_COMPLIANCE__CALLING_HOURS_START": "8am"})
    with pytest.raises(ValueError, match="task_runner must be threads or dask"):
        load_settings(None, environ={"CALLQA_FLOW__TASK_RUNNER": "celery"})


def test_the_decoding_rate_is_the_models_rate(tmp_path):
    """Whisper, its VAD and the diarization models take 16 kHz: any other audio.sample_rate
    reached them as if it were 16 kHz, so it is a one-line configuration error."""
    f = tmp_path / "c.toml"
    f.write_text("[audio]\nsample_rate = 8000\n")
    with pytest.raises(ValueError, match="audio.sample_rate must be 16000") as err:
        load_settings(f, environ={})
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="audio.sample_rate must be 16000"):
        load_settings(None, environ={"CALLQA_AUDIO__SAMPLE_RATE": "44100"})
    f.write_text("[audio]\nsample_rate = 16000\n")
    assert load_settings(f, environ={}).audio.sample_rate == 16000
    assert AudioSettings(sample_rate=8000).sample_rate == 8000   # the report's clip export decodes at the source rate


def test_overrides_ignore_none_and_are_checked(tmp_path):
    settings = load_settings(environ={}).with_overrides({"warehouse.db": None, "flow.workers": 3})
    assert settings.flow.workers == 3
    assert settings.warehouse.db == Settings().warehouse.db
    with pytest.raises(ValueError, match="unknown setting flow.wrokers"):
        settings.with_overrides({"flow.wrokers": 2})
