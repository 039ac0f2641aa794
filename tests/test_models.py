"""Model folders: the bundled base assembled and verified; other folders validated offline."""
import json
import shutil

import pytest
from faster_whisper import WhisperModel

from speech.whisper_models import (BUNDLED_SHA256, LARGE_V3_VOCAB, ModelError, assemble_bundled, bundled_in_memory,
                           resolve_model, validate_model_dir)


def test_bundled_model_is_assembled_and_verified(tmp_path):
    folder = assemble_bundled(tmp_path / "base")
    assert (folder / ".sha256").read_text().strip() == BUNDLED_SHA256
    assert validate_model_dir(folder) == folder
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert assemble_bundled(tmp_path / "base") == folder          # idempotent: not rebuilt
    assert (folder / "model.bin").stat().st_mtime_ns == mtime


@pytest.mark.slow  # loads and runs Whisper base
def test_in_memory_loading(test_data):
    model = WhisperModel("whisper-base-in-memory", device="cpu", compute_type="int8", files=bundled_in_memory())
    segments, info = model.transcribe(str(test_data / "audio" / "BAC009S0764W0121.wav"), language="zh")
    assert "交易" in "".join(s.text for s in segments)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        validate_model_dir(tmp_path / "nope")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(ModelError) as info:
        validate_model_dir(tmp_path / "m")
    assert "model.bin" in str(info.value) and "tokenizer.json" in str(info.value)
    assert "config.json" not in str(info.value).split("missing:")[1]


def test_large_v3_folder_needs_preprocessor_config(tmp_path):
    folder = tmp_path / "large-v3"
    folder.mkdir()
    for name in ("model.bin", "tokenizer.json"):
        (folder / name).write_bytes(b"x")
    (folder / "config.json").write_text(json.dumps({"suppress_ids": []}))
    (folder / "vocabulary.txt").write_text("\n".join(f"t{i}" for i in range(LARGE_V3_VOCAB)) + "\n")
    with pytest.raises(ModelError, match="preprocessor_config.json"):
        validate_model_dir(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({"feature_size": 128}))
    assert validate_model_dir(folder) == folder


def test_configured_folder_is_used_as_is(tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(assemble_bundled(), folder, ignore=shutil.ignore_patterns(".sha256"))
    assert resolve_model(str(folder)) == folder
    assert resolve_model("base").name == "whisper-base"
