"""The `callqa` command line as a user runs it."""
import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "callqa.cli"]


def run(*args, **kw):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("run", "transcribe", "diarize", "analyze-text", "export", "purge", "models", "report",
                    "sample", "review"):
        assert command in out.stdout


def test_analyze_text_writes_the_dev_schema(test_data, tmp_path):
    out_path = tmp_path / "out.jsonl"
    result = run("analyze-text", test_data / "dev_utterances.jsonl", "-o", out_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    source = [json.loads(line) for line in (test_data / "dev_utterances.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(source) == 100
    for row, src in zip(rows, source):
        assert set(row) == {"id", "role", "text", "labels", "sentiment", "promise"}
        assert (row["id"], row["role"], row["text"]) == (src["id"], src["role"], src["text"])
        assert isinstance(row["labels"], list) and row["sentiment"] in ("negative", "neutral", "positive")


def test_analyze_text_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"role": "collector", "text": "您好"}\n{"text": "no role"}\n', encoding="utf-8")
    result = run("analyze-text", bad)
    assert result.returncode == 2 and "2" in result.stderr


@pytest.mark.slow  # Whisper base in a subprocess
def test_transcribe_json_and_vtt(sample_calls):
    audio = sample_calls / "dev_call_03.stereo.wav"
    js = run("transcribe", audio, "--format", "json", "--roles", "collector,third_party")
    assert js.returncode == 0, js.stderr
    doc = json.loads(js.stdout)
    assert doc["diarization"] == "channel" and doc["duration"] == pytest.approx(24.03, abs=0.05)
    roles = {u["role"] for u in doc["utterances"]}
    assert roles == {"collector", "third_party"}
    assert all(u["words"] and u["words"][0]["start"] >= u["start"] - 0.01 for u in doc["utterances"])
    vtt = run("transcribe", audio, "--format", "vtt")
    assert vtt.stdout.startswith("WEBVTT") and "<v collector>" in vtt.stdout


def test_missing_archive_and_model_folder_errors(tmp_path):
    assert run("run", tmp_path / "nope").returncode == 2

    env = dict(os.environ, CALLQA_ASR__MODEL=str(tmp_path / "large-v3"))
    result = subprocess.run([*CLI, "models", "check"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.slow  # pyannote in a subprocess
def test_diarize_writes_rttm_with_roles(sample_calls, tmp_path):
    out = tmp_path / "call.rttm"
    result = run("diarize", sample_calls / "dev_call_06.mono.wav", "--rttm", out)
    assert result.returncode == 0, result.stderr
    assert "pyannote" in result.stderr
    rows = [line.split() for line in out.read_text().splitlines()]
    assert rows and all(r[0] == "SPEAKER" and r[1] == "dev_call_06.mono" for r in rows)
    assert {r[7] for r in rows} == {"collector", "third_party"}
