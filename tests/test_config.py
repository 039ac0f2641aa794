from pathlib import Path

import pytest

from callqa.config import DEFAULTS, load_config


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg.source is None
    assert cfg.get("asr.language") == "zh"
    assert cfg.get("compliance.calling_hours_end") == "21:00"
    assert cfg.data == DEFAULTS and cfg.data is not DEFAULTS


def test_file_then_environment(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[asr]\ndevice = "cuda"\ncpu_threads = 4\n[compliance]\ncalling_hours_end = "22:00"\n')
    cfg = load_config(f, environ={"CALLQA_ASR__CPU_THREADS": "8", "CALLQA_WAREHOUSE__DB": "/tmp/x.duckdb",
                                  "CALLQA_ARCHIVE__PATTERNS": '["*.wav"]', "OTHER": "1"})
    assert cfg.get("asr.device") == "cuda"
    assert cfg.get("asr.cpu_threads") == 8          # env beats file, parsed as a number
    assert cfg.get("warehouse.db") == "/tmp/x.duckdb"  # not TOML: kept as a string
    assert cfg.get("archive.patterns") == ["*.wav"]
    assert cfg.get("compliance.calling_hours_end") == "22:00"


def test_unknown_settings_are_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[asr]\ndevise = 'cuda'\n")
    with pytest.raises(ValueError, match="devise"):
        load_config(f, environ={})
    with pytest.raises(ValueError, match="CALLQA_ASR__NOPE"):
        load_config(None, environ={"CALLQA_ASR__NOPE": "1"})
    with pytest.raises(ValueError, match="cannot read config"):
        load_config(None, environ={"CALLQA_CONFIG": str(Path(f).with_name("none.toml"))})


def test_overrides_ignore_none(tmp_path):
    cfg = load_config(environ={}).with_overrides({"warehouse.db": None, "flow.workers": 3})
    assert cfg.get("flow.workers") == 3
    assert cfg.get("warehouse.db") == DEFAULTS["warehouse"]["db"]
