"""Reporting views, cross-call compliance, QA sampling and reviews, and the HTML report,
on real DuckDB files built from the scripted calls' ground truth (no ASR)."""
from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from callqa.report import slug
from tests.helpers.reporting_data import HOSTILE, build_db, processed, scripted_calls
from core.settings import ComplianceSettings
from warehouse.reporting import Reports
from warehouse.review import ReviewError, Verdict, import_csv, record, sample, write_sample_csv
from warehouse.store import Warehouse

runner = CliRunner()


@pytest.fixture()
def db(tmp_path, test_data, sample_calls) -> Path:
    return build_db(tmp_path / "qa.duckdb", test_data / "calls", sample_calls)


def settings(cfg, **overrides) -> ComplianceSettings:
    return cfg.with_overrides({f"compliance.{k}": v for k, v in overrides.items()}).compliance


def breaches(db: Path, s: ComplianceSettings) -> dict[str, set[str]]:
    with Reports(db, s) as rep:
        out: dict[str, set[str]] = {}
        for row in rep.compliance_breaches():
            out.setdefault(row["rule"], set()).add(row["call_id"])
    return out


def test_compliance_rules_come_from_config(db, cfg):
    default = breaches(db, settings(cfg))
    # 21:40 in Shanghai; 07:30 with no timezone on the call (default timezone applies); the
    # inbound call at 23:00 is never a breach
    assert default["outside_hours"] == {"dev_call_02", "syn/b2-early"}
    assert default["attempt_cap"] == {"syn/b1-7", "syn/b1-8"}           # attempts 8 and 9 within 7 days
    assert default["after_contact"] == {f"syn/b1-{k}" for k in range(1, 9)}
    relaxed = breaches(db, settings(cfg, calling_hours_end="22:00", default_timezone="Asia/Tokyo",
                                    max_attempts_7d=9, cooldown_days_after_contact=0))
    assert relaxed == {}
    assert breaches(db, settings(cfg, calling_hours_start="07:00"))["outside_hours"] == {"dev_call_02"}
    for bad in ({"calling_hours_end": "25:00"}, {"calling_hours_start": "22:00"}, {"default_timezone": "Mars/Base"},
                {"max_attempts_7d": "7"}):
        with pytest.raises(ValueError, match="compliance"):
            settings(cfg, **bad)


def test_collector_stats_and_stress_index(db, cfg):
    with Reports(db, settings(cfg)) as rep:
        weekly = {(r["collector_id"], str(r["period"])): r for r in rep.collector_stats("week")}
        daily = rep.collector_stats("day")
        trend = {(str(r["week"]), r["campaign"], r["team"]): r for r in rep.abuse_trend()}
        flagged = rep.flagged()
    c101 = weekly[("C101", "2026-11-16")]
    # b1-0, b1-3, b1-6 and the hostile inbound call carry customer abuse
    assert (c101["calls"], c101["abuse_received"], c101["threats_received"], c101["own_violations"]) == (11, 4, 0, 0)
    c023 = weekly[("C023", "2026-11-02")]  # dev_call_02: abusive, threatening, disclosing collector
    assert c023["own_violations"] == 5 and c023["abuse_received"] == 0
    assert 0 < c023["negative_share"] < 1 and 0 <= c023["silence_share"] < 1
    for row in weekly.values():
        n = row["calls"]
        expected = 100 * (0.30 * min(1, row["abuse_received"] / n) + 0.25 * min(1, 2 * row["threats_received"] / n)
                          + 0.20 * (row["negative_share"] or 0) + 0.10 * min(1, (row["overlap_share"] or 0) / 0.10)
                          + 0.10 * min(1, row["own_violations"] / n)
                          + 0.05 * min(1, max(0, (row["silence_share"] or 0) - 0.30) / 0.40))
        assert row["stress_index"] == pytest.approx(expected, abs=0.06)
        assert 0 <= row["stress_index"] <= 100
    # days add up to weeks
    assert sum(r["calls"] for r in daily) == sum(r["calls"] for r in weekly.values()) == 17
    assert sum(r["abuse_received"] for r in daily) == sum(r["abuse_received"] for r in weekly.values())
    assert trend[("2026-11-16", "mortgage", "T2")]["calls_with_abuse"] == 4
    assert trend[("2026-11-09", "card-2026Q4", "T1")]["abuse_received"] == 2  # dev_call_04 and 05 customers
    assert {f["kind"] for f in flagged} == {"abuse", "threat", "privacy", "self_harm", "pii"}
    assert all(f["severity"] != "info" and f["evidence"] for f in flagged)


def test_sample_is_stratified_and_reproducible(db):
    first = sample(db, 10, by=["kind"], seed=7)
    assert first == sample(db, 10, by=["kind"], seed=7)
    assert len(first) == 10
    flagged = [r for r in first if r["group"] == "flagged"]
    unflagged = [r for r in first if r["group"] == "unflagged"]
    assert len(unflagged) == 1 and unflagged[0]["finding_id"] is None
    assert {r["kind"] for r in flagged} == {"abuse", "threat", "privacy", "self_harm", "pii"}  # every stratum
    assert len({r["finding_id"] for r in flagged}) == 9
    by_two = sample(db, 30, by=["kind", "collector"], seed=7, unflagged_share=0.0)
    assert len(by_two) == 16  # everything flagged, nothing unflagged
    assert {r["stratum"] for r in by_two} >= {"abuse/C101", "threat/C023", "self_harm/C023"}
    reviewed = flagged[0]
    record(db, Verdict(reviewed["call_id"], "confirmed", "amy", reviewed["finding_id"]))
    assert reviewed["finding_id"] not in {r["finding_id"] for r in sample(db, 30, seed=7)}
    assert reviewed["finding_id"] in {r["finding_id"] for r in sample(db, 30, seed=7, include_reviewed=True)}
    with pytest.raises(ValueError, match="cannot stratify"):
        sample(db, 5, by=["mood"])


def test_review_cli_precision_and_import(db, tmp_path, cfg):
    with Reports(db, settings(cfg)) as rep:
        threat = next(f for f in rep.flagged() if f["call_id"] == "dev_call_05" and f["kind"] == "threat")
        abuse = [f for f in rep.flagged() if f["kind"] == "abuse"]
    ok = runner.invoke(app, ["review", "dev_call_05", "--finding", threat["finding_id"], "--verdict", "confirmed",
                             "--reviewer", "amy", "--note", "clear threat", "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert "confirmed" in ok.output and "amy" in ok.output
    wrong = runner.invoke(app, ["review", "dev_call_01", "--finding", threat["finding_id"], "--verdict", "rejected",
                                "--db", str(db)])
    assert wrong.exit_code == 2 and "belongs to call" in wrong.output
    missing = runner.invoke(app, ["review", "dev_call_05", "--finding", "dev_call_05#99", "--verdict", "rejected",
                                  "--db", str(db)])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    # a sampled call without flags in which the reviewer heard abuse
    assert runner.invoke(app, ["review", "dev_call_01", "--verdict", "missed", "--kind", "abuse", "--reviewer", "bo",
                               "--db", str(db)]).exit_code == 0

    # the sample CSV, filled in, imports back; importing twice adds nothing
    sheet = tmp_path / "sample.csv"
    write_sample_csv(sample(db, 4, by=["kind"], seed=1, unflagged_share=0.0), sheet)
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    targets = [f for f in abuse[:3]]
    rows = [{**r, "call_id": f["call_id"], "finding_id": f["finding_id"], "verdict": v, "reviewer": "cy",
             "note": "'=not a formula"} for r, f, v in zip(rows, targets, ("confirmed", "rejected", "confirmed"))]
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = runner.invoke(app, ["review", "--import", str(sheet), "--db", str(db)])
    assert out.exit_code == 0 and "imported 3" in out.output, out.output
    assert import_csv(db, sheet, "x").duplicates == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("call_id,finding_id,verdict\ndev_call_05,dev_call_05#1,maybe\ndev_call_05,nope#1,confirmed\n")
    out = runner.invoke(app, ["review", "--import", str(bad), "--db", str(db)])
    assert out.exit_code == 1 and "line 2" in out.output and "line 3" in out.output and "nothing imported" in out.output

    with Reports(db, settings(cfg)) as rep:
        precision = {p["kind"]: p for p in rep.precision()}
        missed = rep.missed()
    assert precision["threat"]["reviewed"] == 1 and precision["threat"]["precision"] == 1.0
    assert (precision["abuse"]["confirmed"], precision["abuse"]["rejected"]) == (2, 1)
    assert precision["abuse"]["precision"] == pytest.approx(2 / 3)
    assert missed == [{"kind": "abuse", "calls_missed": 1, "calls_reviewed": 1}]
    con = duckdb.connect(str(db), read_only=True)
    notes = {n for (n,) in con.execute("SELECT note FROM reviews WHERE reviewer = 'cy'").fetchall()}
    con.close()
    assert notes == {"=not a formula"}


def test_reviews_survive_reruns_and_go_stale_on_changed_findings(db, test_data, sample_calls, cfg):
    with Reports(db, settings(cfg)) as rep:
        target = next(f for f in rep.flagged() if f["call_id"] == "dev_call_02" and f["kind"] == "abuse")
    record(db, Verdict("dev_call_02", "confirmed", "amy", target["finding_id"]))
    calls = {p.call.call_id: p for p in scripted_calls(test_data / "calls", sample_calls)}
    with Warehouse(db) as wh:  # another call re-landed: the verdict stays
        wh.land([calls["dev_call_05"]], [], wh.start_run("x", {}))
    with Reports(db, settings(cfg)) as rep:
        assert {f["finding_id"]: f["verdict"] for f in rep.flagged()}[target["finding_id"]] == "confirmed"
    changed = calls["dev_call_02"]
    changed = dataclasses.replace(changed, call=dataclasses.replace(changed.call, sha256="new"),
                                  findings=[dataclasses.replace(f, kind="pii") for f in changed.findings])
    with Warehouse(db) as wh:  # a changed recording with other findings: the verdict no longer applies
        wh.land([changed], [], wh.start_run("x", {}))
    with Reports(db, settings(cfg)) as rep:
        verdicts = {f["finding_id"]: f["verdict"] for f in rep.flagged()}
        assert verdicts[target["finding_id"]] is None
        assert {p["kind"]: p["reviewed"] for p in rep.precision()}.get("abuse") == 0


def test_report_pages_escape_and_copy_audio(db, tmp_path, cfg, test_data, sample_calls):
    # raw text stored for one call must never reach the report
    raw_call = processed(dataclasses.replace(scripted_calls(test_data / "calls", sample_calls)[0].call, call_id="raw/one",
                                             sha256="raw"), [("customer", 0.5, 2.0, "我的号码是[电话]", ["pii"])], 3.0)
    raw_call.raw_texts = ["RAWSECRET 13700138000"]
    with Warehouse(db) as wh:
        wh.land([raw_call], [], wh.start_run("x", {}))
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "18 call(s)" in result.output and "11 recording(s) missing" in result.output
    assert "1 recording(s) changed" in result.output  # raw/one: another hash than its file's
    pages = {p.name for p in (out / "calls").glob("*.html")}
    call05, hostile = slug("dev_call_05"), slug("syn/b3 <hostile>")
    assert f"{call05}.html" in pages and f"{hostile}.html" in pages and len(pages) == 18
    everything = "\n".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    assert "RAWSECRET" not in everything and "13700138000" not in everything
    assert HOSTILE not in everything and "<script>alert" not in everything
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in (out / "calls" / f"{hostile}.html").read_text()
    assert set(re.findall(r"<script[^>]*>", everything)) == {'<script src="static/report.js" defer>',
                                                              '<script src="../static/report.js" defer>'}
    assert "http://" not in everything and "https://" not in everything  # nothing from the network
    page = (out / "calls" / f"{call05}.html").read_text(encoding="utf-8")
    assert f'src="../audio/{call05}.wav"' in page and 'data-seek="13.485"' in page
    # redacted audio (the [电话] utterance toned out), never a copy of the recording
    assert (out / "audio" / f"{call05}.wav").read_bytes() != (sample_calls / "dev_call_05.stereo.wav").read_bytes()
    assert "has changed since it was processed" in (out / "calls" / f"{slug('raw/one')}.html").read_text(encoding="utf-8")
    assert not (out / "audio" / f"{slug('raw/one')}.wav").exists()
    assert "Recording not available" in (out / "calls" / f"{slug('syn/b1-0')}.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<svg") >= 3 and "outside calling hours" in index and "dev_call_02" in index
    queue = (out / "queue.html").read_text(encoding="utf-8")
    assert queue.count('class="finding sev-') == 17  # 16 flagged + the raw call's pii
    # rebuilding after a call is gone prunes its page and audio; other folders are refused
    with Warehouse(db) as wh:
        wh.con.execute("DELETE FROM calls WHERE call_id = 'dev_call_05'")
    assert runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--no-audio"]).exit_code == 0
    assert not (out / "calls" / f"{call05}.html").exists() and list((out / "audio").glob("*")) == []
    other = tmp_path / "docs"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["report", "--db", str(db), "--out", str(other)])
    assert refused.exit_code == 2 and "not a callqa report folder" in refused.output


def test_mu_law_recording_is_transcoded(tmp_path, sample_calls, cfg):
    import av

    from callqa.report.media import place_audio
    from core.files import sha256_file
    from warehouse.redaction import CallAudio
    from tests.helpers.audio import decode_at
    from tests.helpers.audio import encode

    audio = decode_at(sample_calls / "dev_call_05.stereo.wav", 8000)
    src = encode(audio.samples[:, :8000 * 3], 8000, tmp_path / "ulaw.wav", "pcm_mulaw", "wav")
    rec = CallAudio("a b", str(src), sha256_file(src), 8000, [])
    copy = place_audio(rec, tmp_path / "audio", "a b", "a%20b", cfg.audio)
    assert (copy.status, copy.href) == ("ok", "audio/a%20b.wav")
    with av.open(str(tmp_path / "audio" / "a b.wav")) as fh:
        stream = fh.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("pcm_s16le", 8000, 2)
        assert fh.duration / 1e6 == pytest.approx(3.0, abs=0.05)
    gone = CallAudio("g", str(tmp_path / "gone.wav"), "x", 8000, [])
    assert place_audio(gone, tmp_path / "audio", "g", "g", cfg.audio).status == "missing"


def test_old_database_is_migrated_for_reports(tmp_path, cfg):
    from warehouse.migrate import MIGRATIONS_DIR

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute((MIGRATIONS_DIR / "001_core.sql").read_text())
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMPTZ DEFAULT now())")
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'core')")
    con.close()
    with Reports(db, settings(cfg)) as rep:
        assert rep.kpis()["calls"] == 0 and rep.compliance_breaches() == []


def test_cli_sample_writes_csv(db, tmp_path):
    path = tmp_path / "s.csv"
    out = runner.invoke(app, ["sample", "--db", str(db), "--n", "6", "--by", "kind,collector", "--seed", "3",
                              "--csv", str(path)])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 6 and {"call_id", "finding_id", "verdict", "note", "reviewer"} <= set(rows[0])
    assert HOSTILE not in path.read_text(encoding="utf-8")  # no transcript text in samples
    bad = runner.invoke(app, ["sample", "--db", str(db), "--by", "mood"])
    assert bad.exit_code == 2 and "cannot stratify" in bad.output


def test_review_rejects_nonsense(db):
    with pytest.raises(ReviewError, match="needs a finding id"):
        record(db, Verdict("dev_call_05", "confirmed", "amy"))
    with pytest.raises(ReviewError, match="whole call"):
        record(db, Verdict("dev_call_05", "clean", "amy", finding_id="dev_call_05#1"))
    with pytest.raises(ReviewError, match="not in the warehouse"):
        record(db, Verdict("nope", "clean", "amy"))
