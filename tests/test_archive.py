"""Finding recordings and reading manifests, including the ways manifests go wrong."""
import os
import shutil
from datetime import datetime, timezone

from flows.discovery import discover, started_at_from_name
from core.settings import ArchiveSettings

ARCHIVE = ArchiveSettings()   # the default file patterns
TZ = "Asia/Shanghai"


def copy_calls(sample_calls, dest, ids=("01", "03")):
    dest.mkdir(parents=True, exist_ok=True)
    for i in ids:
        shutil.copy(sample_calls / f"dev_call_{i}.stereo.wav", dest / f"dev_call_{i}.stereo.wav")
    return dest


def test_manifest_metadata(sample_calls, tmp_path):
    archive = copy_calls(sample_calls, tmp_path / "a")
    shutil.copy(sample_calls / "manifest.csv", archive / "manifest.csv")
    calls, failures = discover(archive, ARCHIVE, default_tz=TZ)
    by_id = {c.call_id: c for c in calls}
    assert set(by_id) == {"dev_call_01", "dev_call_03"}
    c3 = by_id["dev_call_03"]
    assert c3.collector_id == "C017" and c3.account_id == "A55102"
    assert c3.channel_roles == ("collector", "third_party")
    assert c3.started_at == datetime(2026, 11, 3, 6, 5, tzinfo=timezone.utc)
    assert len(c3.sha256) == 64 and c3.size_bytes > 0
    # rows for recordings not in this archive are reported, not fatal
    assert {f.reason for f in failures} == {"path_not_found"}
    assert {f.call_id for f in failures} == {"dev_call_02", "dev_call_04", "dev_call_05", "dev_call_06"}


def test_bad_manifest_rows(sample_calls, tmp_path):
    archive = copy_calls(sample_calls, tmp_path / "a")
    (archive / "manifest.csv").write_text(
        "call_id,path,started_at,timezone,channel0_role,channel1_role,colour\n"
        "x1,dev_call_01.stereo.wav,yesterday,Asia/Shanghai,collector,customer,red\n"
        "x3,dev_call_03.stereo.wav,2026-11-03 14:05,Mars/Base,collector,boss,blue\n", encoding="utf-8")
    calls, failures = discover(archive, ARCHIVE, default_tz=TZ)
    reasons = sorted(f.reason for f in failures)
    assert reasons == ["bad_roles", "bad_timestamp", "bad_timezone", "unknown_columns"]
    by_id = {c.call_id: c for c in calls}
    assert by_id["x1"].started_at is None and by_id["x1"].channel_roles == ("collector", "customer")
    assert by_id["x3"].timezone == "Asia/Shanghai" and by_id["x3"].channel_roles is None
    assert by_id["x3"].started_at.isoformat() == "2026-11-03T14:05:00+08:00"


def test_manifest_without_path_column_falls_back_to_names(sample_calls, tmp_path):
    archive = copy_calls(sample_calls, tmp_path / "a", ids=("01",))
    (archive / "manifest.csv").write_text("call_id,collector\nq,C1\n")
    calls, failures = discover(archive, ARCHIVE, default_tz=TZ)
    assert [c.call_id for c in calls] == ["dev_call_01.stereo"]
    assert failures[0].reason == "missing_columns" and "path" in failures[0].message


def test_duplicates_symlink_loops_and_odd_names(sample_calls, tmp_path):
    archive = copy_calls(sample_calls, tmp_path / "a", ids=("01",))
    nested = archive / "2026" / "11"
    nested.mkdir(parents=True)
    shutil.copy(archive / "dev_call_01.stereo.wav", nested / "copy_20261102_101500.wav")
    shutil.copy(sample_calls / "dev_call_03.stereo.wav", nested / "call_20261103T140500.WAV")
    os.symlink(archive, nested / "loop")                      # a folder link back up: not followed
    odd = os.fsencode(str(archive)) + b"/caf\xe9.wav"          # not UTF-8
    with open(odd, "wb") as fh:
        fh.write(b"not audio")
    (archive / "notes.txt").write_text("ignored")
    calls, failures = discover(archive, ARCHIVE, default_tz=TZ)
    ids = sorted(c.call_id for c in calls)
    # files are taken in path order: the nested copy comes first, the top-level one is its duplicate
    assert ids == ["2026/11/call_20261103T140500", "2026/11/copy_20261102_101500", "caf\ufffd"]
    dup = [f for f in failures if f.reason == "duplicate"]
    assert len(dup) == 1 and dup[0].call_id == "dev_call_01.stereo"
    assert "2026/11/copy_20261102_101500" in dup[0].message
    stamped = next(c for c in calls if c.call_id.startswith("2026/"))
    assert stamped.started_at.isoformat() == "2026-11-03T14:05:00+08:00"


def test_timestamp_in_name():
    assert started_at_from_name("c_2026-11-02_21-40-00.mp3", "UTC").hour == 21
    assert started_at_from_name("c_20261399T999999.mp3", "UTC") is None
    assert started_at_from_name("call.wav", "UTC") is None
