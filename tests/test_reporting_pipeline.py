"""The report on calls processed by the real pipeline (Whisper base, detectors, metrics)."""
from __future__ import annotations

import shutil

import pytest

from flows.discovery import discover
from flows.recording import process_recording
from callqa.report import build_report, slug
from warehouse.reporting import Reports
from warehouse.store import Warehouse

pytestmark = pytest.mark.slow  # the real Whisper model on two calls


def test_report_on_processed_calls(sample_calls, tmp_path, cfg, transcriber):
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("dev_call_02.stereo.wav", "dev_call_05.stereo.wav", "manifest.csv"):
        shutil.copy(sample_calls / name, archive)
    calls, _ = discover(archive, cfg.archive, default_tz=cfg.compliance.default_timezone)
    assert {c.call_id for c in calls} == {"dev_call_02", "dev_call_05"}
    db = tmp_path / "qa.duckdb"
    with Warehouse(db) as wh:
        wh.land([process_recording(c, cfg) for c in calls], [], wh.start_run(str(archive), {}))

    with Reports(db, cfg.compliance) as rep:
        flagged = rep.flagged()
        breaches = rep.compliance_breaches()
        stats = rep.collector_stats("week")
    kinds = {(f["call_id"], f["kind"]) for f in flagged}
    assert ("dev_call_05", "threat") in kinds and ("dev_call_02", "abuse") in kinds
    assert [(b["rule"], b["call_id"]) for b in breaches] == [("outside_hours", "dev_call_02")]  # 21:40
    assert {s["collector_id"] for s in stats} == {"C017", "C023"}
    assert all(0 <= s["stress_index"] <= 100 and s["talk_min"] > 0 for s in stats)

    result = build_report(db, tmp_path / "report", cfg)
    assert (result.calls, result.audio_ok, result.audio_missing) == (2, 2, 0)
    page = (tmp_path / "report" / "calls" / f"{slug('dev_call_05')}.html").read_text(encoding="utf-8")
    threat = next(f for f in flagged if f["call_id"] == "dev_call_05" and f["kind"] == "threat")
    assert f'data-seek="{threat["start_s"]:.3f}"' in page and f'src="../audio/{slug("dev_call_05")}.wav"' in page
