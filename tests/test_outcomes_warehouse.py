"""Call outcomes downstream of the detectors (issue 13): dispositions and promises landed with
their calls, payments and the dialer's attempt log imported, promises kept or broken, the
collection-rule profiles, `callqa breaches`, the report's outcomes section.

Calls are built from utterances run through the real detectors (analysis.analyze_call, with the
call's local start, as flows.recording does) and landed in a real DuckDB; one slow test runs a
voiced scripted call end to end.
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analysis import analyze_call, disposition
from callqa.cli import app
from core.domain import Call, Failure, ProcessedCall, Utterance, Word
from core.settings import load_settings
from flows.recording import local_start, redact_utterances
from speech.metrics import measure_call
from warehouse.purge import purge
from warehouse.reporting import Reports
from warehouse.staging import read_staged, stage_call, write_staged
from warehouse.store import Warehouse

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner()
HELLO = ("collector", "您好,我是招商银行信用卡中心的客服小王,请问是张明先生吗?")
ME = ("customer", "对,我是张明,有什么事?")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A local time in Shanghai, November 2026 (16 Nov is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def call_of(call_id: str, account: str, started: datetime, turns: list[tuple[str, str]], *,
            collector: str = "C1", direction: str = "outbound", sha: str | None = None) -> ProcessedCall:
    """A landed-call-to-be from (role, text) turns, analysed like flows.recording does it."""
    call = Call(call_id=call_id, path=f"/archive/{call_id}.wav", sha256=sha or f"sha-{call_id}", size_bytes=1,
                collector_id=collector, account_id=account, started_at=started, timezone="Asia/Shanghai",
                direction=direction, channel_roles=("collector", "customer"))
    utts = []
    for i, (role, text) in enumerate(turns):
        start = 0.5 + 3.0 * i
        utts.append(Utterance(speaker="ch0" if role == "collector" else "ch1", role=role, start=start,
                              end=start + 2.5, text=text, words=[Word(start, start + 2.5, text)],
                              channel=0 if role == "collector" else 1))
    findings = analyze_call(utts, local_start(call))
    redact_utterances(utts, keep_raw=False)
    duration = 3.0 * len(turns) + 1.0
    return ProcessedCall(call=call, duration=duration, channels=2, source_rate=8000, codec="pcm_s16le",
                         utterances=utts, findings=findings, metrics=measure_call(utts, duration),
                         diarization="channel", asr_model="test", disposition=disposition(utts, findings))


def land(db: Path, results: list[ProcessedCall], failures: list[Failure] | None = None) -> Path:
    with Warehouse(db) as wh:
        wh.land(results, failures or [], wh.start_run("/archive", {}))
    return db


def rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with Warehouse(db, read_only=True) as wh:
        return wh.con.execute(sql, params or []).fetchall()


def write_rows(path: Path, header: list[str], data: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(data)
    return path


def settings_for(tmp_path: Path, profile: str | None = None, extra: str = ""):
    """Settings as `load_settings` builds them from a config file (profile and overrides)."""
    config = tmp_path / f"callqa-{profile or 'none'}.toml"
    config.write_text("[compliance]\n" + (f'profile = "{profile}"\n' if profile else "") + extra, encoding="utf-8")
    return load_settings(config, environ={})


# -- dispositions and promises land with their calls ----------------------------------------------

PROMISES = [HELLO, ME, ("collector", "您的信用卡已经逾期十五天,欠款六千元。"),
            ("customer", "行,我明天把三千块钱还上,有事打我电话13812345678。"),
            ("customer", "等我下个月发了工资就全部还清。"),
            ("customer", "下个月十五号我先还五百。")]


def test_disposition_column_is_landed_and_null_for_failed_calls(tmp_path):
    db = land(tmp_path / "w.duckdb", [
        call_of("rp", "A1", at(12, 10), [HELLO, ME]),
        call_of("wrong", "A2", at(12, 11), [HELLO, ("customer", "你打错了,这里没有叫张明的。")]),
        call_of("silent", "A3", at(12, 12), [HELLO, ("collector", "喂?喂?您好?")]),
        call_of("mother", "A4", at(12, 13), [HELLO, ("customer", "我是他妈妈,他不在家。")]),
    ], [Failure("broken", "/archive/broken.wav", "s-broken", "decode", "decode_error", "not audio")])
    got = dict(rows(db, "SELECT call_id, disposition FROM calls"))
    assert got == {"rp": "right_party", "wrong": "wrong_number", "silent": "no_answer", "mother": "third_party",
                   "broken": None}


def test_promises_rows_carry_amount_due_and_due_date(tmp_path):
    db = land(tmp_path / "w.duckdb", [call_of("p1", "A1", at(12, 10), PROMISES, collector="C7")])
    got = rows(db, "SELECT finding_id, account_id, collector_id, amount, due, due_date, role, evidence"
                   " FROM promises ORDER BY said_at_s")
    assert [(r[3], r[4], r[5]) for r in got] == [(3000.0, "2026-11-13", date(2026, 11, 13)),
                                                 (None, "2026-12", date(2026, 12, 31)),
                                                 (500.0, "2026-12-15", date(2026, 12, 15))]
    assert {(r[1], r[2], r[6]) for r in got} == {("A1", "C7", "customer")}
    assert "13812345678" not in got[0][7] and "[电话]" in got[0][7]  # evidence redacted
    findings = dict(rows(db, "SELECT finding_id, kind FROM findings"))
    assert all(findings[r[0]] == "promise_to_pay" for r in got)  # each row names its finding
    outcome_kinds = {k for (k,) in rows(db, "SELECT DISTINCT kind FROM findings WHERE role <> 'collector'")}
    assert "promise_to_pay" in outcome_kinds


def test_staged_calls_land_promises_and_older_staging_still_lands(tmp_path):
    staged = stage_call(call_of("s1", "A1", at(12, 10), PROMISES))
    ref = write_staged(staged, "sha-s1", tmp_path / "staging")
    old = stage_call(call_of("s2", "A2", at(12, 10), PROMISES))  # as staged before promises existed
    old.tables.pop("promises")
    old.tables["calls"] = old.tables["calls"].drop(["disposition"])
    db = land(tmp_path / "w.duckdb", [read_staged(ref), old])
    assert rows(db, "SELECT call_id, count(*) FROM promises GROUP BY 1") == [("s1", 3)]
    assert dict(rows(db, "SELECT call_id, disposition FROM calls")) == {"s1": "right_party", "s2": None}


def test_promises_follow_replace_rekey_metadata_and_purge(tmp_path):
    db = land(tmp_path / "w.duckdb", [call_of("old-id", "A1", at(12, 10), PROMISES),
                                      call_of("other", "A9", at(12, 10), PROMISES)])
    land(db, [call_of("old-id", "A1", at(12, 10), PROMISES[:4], sha="changed")])  # a changed recording
    assert rows(db, "SELECT count(*) FROM promises WHERE call_id = 'old-id'") == [(1,)]
    with Warehouse(db) as wh:
        wh.rekey_call("old-id", "new-id", wh.start_run("/archive", {}))
        wh.update_call_metadata([Call("new-id", "/archive/x.wav", account_id="A2", collector_id="C2")])
    got = rows(db, "SELECT p.call_id, p.finding_id, f.kind, p.account_id, p.collector_id FROM promises p"
                   " JOIN findings f USING (finding_id) WHERE p.call_id = 'new-id'")
    assert [(r[0], r[1].startswith("new-id#"), r[2], r[3], r[4]) for r in got] == [
        ("new-id", True, "promise_to_pay", "A2", "C2")]
    with Warehouse(db) as wh:
        purge(wh, ["new-id"], "call_id=new-id")
    assert rows(db, "SELECT DISTINCT call_id FROM promises") == [("other",)]


# -- payments and broken promises -------------------------------------------------------------------

def promise_db(tmp_path: Path) -> Path:
    """One promise per account, all said on Thu 12 Nov 2026 10:00 (Shanghai)."""
    said = {
        "P1": "行,我明天把三千块钱还上。",           # 3000 by 13 Nov: paid 3000 on the 13th -> kept
        "P2": "行,我明天把三千块钱还上。",           # paid 1000 only -> broken after the 13th
        "P3": "我下周一去柜台还两千。",               # 2000 by 16 Nov, nothing paid -> broken only from the 17th
        "P4": "等我下个月发了工资就全部还清。",        # no amount, due 2026-12 -> kept by any payment in December
        "P5": "行,我明天把三千块钱还上。",           # paid in full but a day late -> broken
    }
    return land(tmp_path / "w.duckdb", [call_of(f"c-{a}", a, at(12, 10), [HELLO, ME, ("customer", text)])
                                        for a, text in said.items()])


def statuses(db: Path, as_of: date) -> dict[str, str]:
    with Reports(db, load_settings(environ={}).compliance) as rep:
        return {r["account_id"]: r["status"] for r in rep.promise_status(as_of)}


def test_import_payments_is_idempotent_and_judges_promises(tmp_path):
    db = promise_db(tmp_path)
    assert set(statuses(db, date(2026, 12, 31)).values()) == {"unknown"}  # no payments file yet
    sheet = write_rows(tmp_path / "payments.csv", ["account_id", "paid_at", "amount"], [
        ["P1", "2026-11-13T18:00:00+08:00", "3000"],
        ["P2", "2026-11-13", "1,000.00"],
        ["P4", "2026-12-20 09:30", "¥500"],
        ["P5", "2026-11-14T09:00:00", "3000"],
    ], encoding="gb18030")
    first = runner.invoke(app, ["import-payments", str(sheet), "--db", str(db)], catch_exceptions=False)
    again = runner.invoke(app, ["import-payments", str(sheet), "--db", str(db)], catch_exceptions=False)
    assert first.exit_code == again.exit_code == 0, first.output
    assert "imported 4 payment row(s) (0 already there)" in first.stdout
    assert "imported 0 payment row(s) (4 already there)" in again.stdout
    assert rows(db, "SELECT count(*) FROM payments") == [(4,)]
    assert statuses(db, date(2026, 11, 13)) == {"P1": "kept", "P2": "pending", "P3": "pending", "P4": "pending",
                                                "P5": "pending"}
    assert statuses(db, date(2026, 11, 16)) == {"P1": "kept", "P2": "broken", "P3": "pending", "P4": "pending",
                                                "P5": "broken"}
    assert statuses(db, date(2026, 11, 17))["P3"] == "broken"
    assert statuses(db, date(2026, 12, 21))["P4"] == "kept"
    with Reports(db, load_settings(environ={}).compliance) as rep:
        broken = rep.rows("SELECT account_id, paid_by_due FROM broken_promises('Asia/Shanghai', DATE '2026-11-17')"
                          " ORDER BY 1")
    assert broken == [{"account_id": "P2", "paid_by_due": 1000.0}, {"account_id": "P3", "paid_by_due": 0.0},
                      {"account_id": "P5", "paid_by_due": 0.0}]


def test_bad_payment_rows_import_nothing(tmp_path):
    db = promise_db(tmp_path)
    sheet = write_rows(tmp_path / "bad.csv", ["account_id", "paid_at", "amount"], [
        ["P1", "2026-11-13", "3000"], ["P2", "yesterday", "10"], ["P3", "2026-11-13", "-5"]])
    result = runner.invoke(app, ["import-payments", str(sheet), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "line 3: paid_at 'yesterday'" in result.stderr and "line 4: amount '-5'" in result.stderr
    assert rows(db, "SELECT count(*) FROM payments") == [(0,)]
    missing = write_rows(tmp_path / "cols.csv", ["account", "amount"], [["P1", "1"]])
    result = runner.invoke(app, ["import-payments", str(missing), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 2 and "missing column(s) account_id, paid_at" in result.stderr


# -- the attempt log and the rule profiles ----------------------------------------------------------

ATTEMPT_HEADER = ["account_id", "phone", "started_at", "timezone", "answered", "collector_id"]


def attempt(account: str, phone: str, when: datetime, answered: bool) -> list:
    return [account, phone, when.replace(tzinfo=None).isoformat(sep=" "), "Asia/Shanghai",
            "yes" if answered else "no", "C9"]


def rules_db(tmp_path: Path) -> Path:
    """A constructed attempt log and recordings, one account per situation (see each comment)."""
    rp = [HELLO, ME]
    calls = [
        call_of("C1-rec", "C1", at(16, 10), rp),                       # a conversation ...
        call_of("D1-rec", "D1", at(22, 10, 1), rp),                    # in the log (60 s from an attempt)
        call_of("D2-rec", "D2", at(22, 10, 5), rp),                    # not in the log (300 s away)
        call_of("T1-rec", "T1", at(16, 10), [HELLO, ("third_party", "我是他妈妈,他不在家。")]),
        call_of("T2-rec", "T2", at(16, 10), [HELLO, ("third_party", "我是他妈妈,他不在家。")]),
        call_of("X1-rec", "X1", at(16, 10), rp + [("customer", "以后别再给我打电话了。")]),
        call_of("I1-rec", "I1", at(16, 23), rp, direction="inbound"),  # inbound at 23:00: never a breach
    ]
    log = [attempt("H1", "13800000001", at(16, 21, 30), False), attempt("H1", "13800000001", at(16, 22, 30), False)]
    log += [attempt("E1", "13800000002", at(16, 9 + k), True) for k in range(4)]          # 4 effective in a day
    log += [attempt("U1", "+86 138 0000 0003", at(16, 9 + k), False) for k in range(7)]  # 7 unanswered, one number
    log += [attempt("S1", "13800000004", at(16, 10), False), attempt("S1", "13800000004", at(16, 11), False)]
    log += [attempt("S1", "13800000004", at(d, 10), False) for d in range(17, 23)]      # 8 within 7 days
    log += [attempt("C1", "13800000005", at(18, 10), False)]                             # ... 2 days later
    for account, phone in (("D1", "13800000006"), ("D2", "13800000007")):
        log += [attempt(account, phone, at(d, 10), d == 22) for d in range(16, 23)]     # 7, + a recording
    log += [attempt("T1", "13800000008", at(16, 9), False), attempt("T1", "13800000008", at(16, 9, 30), False)]
    log += [attempt("T2", "13800000009", at(16, 9, m), False) for m in (0, 30, 45)]
    log += [attempt("X1", "13800000010", at(17, 10), False)]                             # after "stop calling"
    db = land(tmp_path / "rules.duckdb", calls)
    sheet = write_rows(tmp_path / "attempts.csv", ATTEMPT_HEADER, log)
    result = runner.invoke(app, ["import-attempts", str(sheet), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Path:
    """rules_db, built once for the tests that only read it."""
    return rules_db(tmp_path_factory.mktemp("rules"))


def found(db: Path, settings) -> set[tuple]:
    with Reports(db, settings.compliance) as rep:
        return {(b["rule"], b["account_id"], b["event"], b["local_start"].strftime("%d %H:%M"))
                for b in rep.collection_breaches()}


EXPECTED = {
    "cn-2025": {("calling_hours", "H1", "attempt", "16 22:30"),
                ("effective_calls_per_day", "E1", "attempt", "16 12:00"),
                ("cease_contact", "X1", "attempt", "17 10:00")},
    "cba-2026": {("calling_hours", "H1", "attempt", "16 22:30"),
                 ("unanswered_per_number_per_day", "U1", "attempt", "16 15:00"),
                 ("third_party_after_failed_attempts", "T1", "call", "16 10:00"),
                 ("cease_contact", "X1", "attempt", "17 10:00")},
    "us-regf": {("calling_hours", "H1", "attempt", "16 21:30"), ("calling_hours", "H1", "attempt", "16 22:30"),
                ("attempts_7d", "S1", "attempt", "22 10:00"), ("attempts_7d", "D2", "call", "22 10:05"),
                ("cooldown_after_contact", "C1", "attempt", "18 10:00"),
                ("cooldown_after_contact", "X1", "attempt", "17 10:00"),
                ("cease_contact", "X1", "attempt", "17 10:00")},
}


def test_each_profile_finds_exactly_its_breaches(rules, tmp_path):
    db = rules
    for profile, expected in EXPECTED.items():
        assert found(db, settings_for(tmp_path, profile)) == expected, profile
    # without a profile: the configured values (08:00-21:00, 7 in 7 days, 7 days cool-down) and cease-contact
    assert found(db, settings_for(tmp_path)) == EXPECTED["us-regf"]


def test_config_keys_override_the_profile(rules, tmp_path):
    db = rules
    stricter = settings_for(tmp_path, "cn-2025", 'calling_hours_end = "21:00"\nmax_effective_calls_per_day = 4\n')
    assert stricter.compliance.calling_hours_end == "21:00" and stricter.compliance.profile == "cn-2025"
    assert found(db, stricter) == {("calling_hours", "H1", "attempt", "16 21:30"),
                                   ("calling_hours", "H1", "attempt", "16 22:30"),
                                   ("cease_contact", "X1", "attempt", "17 10:00")}
    only = settings_for(tmp_path, "cba-2026", 'rules = ["third_party_after_failed_attempts"]\n'
                                              "third_party_after_failed_attempts = 2\n")
    assert found(db, only) == set()  # T1 had 2 failed attempts: enough now


def test_a_recording_in_the_attempt_log_counts_once(rules, tmp_path):
    db = rules
    with Reports(db, settings_for(tmp_path, "us-regf").compliance) as rep:
        events = rep.rows("SELECT account_id, event, call_id FROM contact_events('Asia/Shanghai', 120)"
                          " WHERE account_id IN ('D1', 'D2') ORDER BY started_at")
        loose = rep.rows("SELECT count(*) AS n FROM contact_events('Asia/Shanghai', 600) WHERE account_id = 'D2'")
    assert sum(e["account_id"] == "D1" for e in events) == 7 and sum(e["account_id"] == "D2" for e in events) == 8
    assert [e["call_id"] for e in events if e["account_id"] == "D1" and e["event"] == "call"] == ["D1-rec"]
    assert loose == [{"n": 7}]  # within a 600 s tolerance the D2 recording is in the log too


def test_import_attempts_is_idempotent_and_keeps_no_phone_number(tmp_path):
    db = land(tmp_path / "w.duckdb", [])
    log = [attempt("A1", "13812345678", at(16, 9 + k), k % 2 == 0) for k in range(5)]
    sheet = write_rows(tmp_path / "a.csv", ATTEMPT_HEADER, log + [log[0]])  # a row repeated in the file
    first = runner.invoke(app, ["import-attempts", str(sheet), "--db", str(db)], catch_exceptions=False)
    again = runner.invoke(app, ["import-attempts", str(sheet), "--db", str(db)], catch_exceptions=False)
    assert "imported 5 attempt row(s) (1 already there)" in first.stdout
    assert "imported 0 attempt row(s) (6 already there)" in again.stdout
    stored = rows(db, "SELECT * FROM attempts")
    assert len(stored) == 5 and not any("12345678" in str(v) for r in stored for v in r)
    assert {r[0] for r in rows(db, "SELECT phone_tail FROM attempts")} == {"5678"}
    bad = write_rows(tmp_path / "bad.csv", ATTEMPT_HEADER, [["A1", "138", "2026-11-16 09:00", "", "maybe", ""]])
    result = runner.invoke(app, ["import-attempts", str(bad), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 1 and "line 2: phone has fewer than 5 digits" in result.stderr


def test_cease_contact_followed_by_another_call_is_a_breach(tmp_path):
    db = land(tmp_path / "w.duckdb", [
        call_of("asked", "A1", at(16, 10), [HELLO, ME, ("customer", "以后别再给我打电话了。")]),
        call_of("again", "A1", at(18, 10), [HELLO, ME]),
        call_of("inbound", "A1", at(19, 10), [("customer", "喂,我想问一下我的账单。")], direction="inbound"),
        call_of("elsewhere", "A2", at(18, 10), [HELLO, ME]),
    ])
    with Reports(db, settings_for(tmp_path, "cn-2025").compliance) as rep:
        breaches = [b for b in rep.collection_breaches() if b["rule"] == "cease_contact"]
    assert [(b["call_id"], b["event"], b["account_id"], b["collector_id"]) for b in breaches] == [
        ("again", "call", "A1", "C1")]
    assert "asked" in breaches[0]["detail"]


def test_breaches_cli_lists_and_writes_csv(rules, tmp_path):
    db = rules
    out = tmp_path / "breaches.csv"
    result = runner.invoke(app, ["breaches", "--db", str(db), "--profile", "cba-2026", "--csv", str(out),
                                 "--config", str(settings_for(tmp_path).source)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "4 breach(es), profile cba-2026" in result.stdout
    with out.open(encoding="utf-8", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert {(r["rule"], r["account_id"]) for r in got} == {(rule, account) for rule, account, _, _ in EXPECTED["cba-2026"]}
    third = next(r for r in got if r["rule"] == "third_party_after_failed_attempts")
    assert third["call_id"] == "T1-rec" and third["event"] == "call" and third["collector_id"] == "C1"
    unanswered = next(r for r in got if r["rule"] == "unanswered_per_number_per_day")
    assert unanswered["attempt_id"].startswith("att-") and unanswered["phone"] == "***0003"
    since = runner.invoke(app, ["breaches", "--db", str(db), "--profile", "cba-2026", "--since", "2026-11-17",
                                "--config", str(settings_for(tmp_path).source)], catch_exceptions=False)
    assert "1 breach(es)" in since.stdout
    bad = runner.invoke(app, ["breaches", "--db", str(db), "--profile", "eu-2030"], catch_exceptions=False)
    assert bad.exit_code == 2 and "unknown profile 'eu-2030'" in bad.stderr


# -- reporting -----------------------------------------------------------------------------------

def test_outcomes_per_collector_and_week_and_follow_ups(tmp_path):
    db = land(tmp_path / "w.duckdb", [
        call_of("p", "A1", at(16, 10), PROMISES, collector="C1"),
        call_of("h", "A2", at(17, 10), [HELLO, ME, ("customer", "我去年被裁员了,到现在都没找到工作。")], collector="C1"),
        call_of("w", "A3", at(17, 11), [HELLO, ("customer", "你打错了,这里没有叫张明的。")], collector="C1"),
        call_of("c", "A4", at(24, 10), [HELLO, ME, ("customer", "你们再这样我就打12378投诉你们。")], collector="C2"),
    ])
    with Reports(db, load_settings(environ={}).compliance) as rep:
        weekly = {(r["collector_id"], str(r["week"])): r for r in rep.outcomes_weekly(date(2026, 12, 1))}
        follow = [(f["call_id"], f["kind"]) for f in rep.follow_ups()]
    c1 = weekly[("C1", "2026-11-16")]
    assert (c1["calls"], c1["right_party"], c1["wrong_number"], c1["promise_calls"], c1["promises"]) == (3, 2, 1, 1, 3)
    assert c1["rpc_rate"] == pytest.approx(2 / 3) and c1["promise_rate"] == pytest.approx(0.5)
    assert c1["promised_amount"] == 3500.0 and c1["hardship_calls"] == 1 and c1["follow_up_calls"] == 1
    assert weekly[("C2", "2026-11-23")]["complaint_calls"] == 1
    assert follow == [("h", "hardship"), ("c", "complaint_threat")]


def test_report_has_the_outcomes_section_and_outcomes_on_call_pages(tmp_path):
    from callqa.report import build_report

    db = land(tmp_path / "w.duckdb", [
        call_of("p", "A1", at(16, 10), PROMISES),
        call_of("h", "A2", at(17, 10), [HELLO, ME, ("customer", "我去年被裁员了,到现在都没找到工作。")]),
    ])
    from warehouse.reporting import Window

    november = Window(date(2026, 11, 1), date(2026, 11, 30))  # the calls' month, whatever today is
    result = build_report(db, tmp_path / "report", load_settings(environ={}), audio=False, window=november)
    index = (result.out / "index.html").read_text(encoding="utf-8")
    assert 'id="outcomes"' in index and 'id="follow-ups"' in index and 'id="collection-breaches"' in index
    assert "我去年被裁员了" in index and "no payments imported" in index
    page = next(p for p in (result.out / "calls").glob("p-*.html")).read_text(encoding="utf-8")
    assert 'id="call-outcomes"' in page and 'class="badge kind-promise_to_pay">promise to pay' in page
    assert "13812345678" not in page + index


# -- end to end -----------------------------------------------------------------------------------

@pytest.mark.slow  # Whisper base on two voiced calls (about 20 s)
def test_voiced_calls_land_disposition_promise_and_outcomes(test_data, cfg, tmp_path):
    from flows.discovery import read_manifest
    from flows.recording import process_recording

    folder = test_data / "calls_outcomes"
    found, failures = read_manifest(folder / "manifest.csv", folder, "Asia/Shanghai")
    calls = {c.call_id: c for c in found.values()}
    assert failures == [] and calls["out_call_01"].started_at is not None
    results = [process_recording(calls[cid], cfg) for cid in ("out_call_01", "out_call_03")]
    db = land(tmp_path / "w.duckdb", results)
    assert dict(rows(db, "SELECT call_id, disposition FROM calls")) == {"out_call_01": "right_party",
                                                                        "out_call_03": "wrong_number"}
    assert rows(db, "SELECT call_id, amount, due, due_date, role FROM promises") == [
        ("out_call_01", 3000.0, "2026-11-13", date(2026, 11, 13), "customer")]
    kinds = rows(db, "SELECT call_id, kind FROM findings WHERE kind IN ('promise_to_pay', 'wrong_party') ORDER BY 1, 2")
    assert ("out_call_01", "promise_to_pay") in kinds and ("out_call_03", "wrong_party") in kinds
    truth = json.loads((folder / "out_call_01.json").read_text(encoding="utf-8"))
    promised = [t["promise"] for t in truth["turns"] if t.get("promise")]
    assert promised == [{"amount": 3000, "due": "2026-11-13"}]


def test_export_writes_promises_and_purge_rewrites_them(tmp_path):
    from warehouse.export import export

    db = land(tmp_path / "w.duckdb", [call_of("p", "A1", at(16, 10), PROMISES), call_of("q", "A2", at(16, 11), PROMISES)])
    counts = export(db, tmp_path / "out")
    assert counts["promises"] == 6
    day = tmp_path / "out" / "parquet" / "promises" / "call_date=2026-11-16"
    assert sorted(set(pq.read_table(day)["call_id"].to_pylist())) == ["p", "q"]
    with Warehouse(db) as wh:
        purge(wh, ["p"], "call_id=p")
    assert set(pq.read_table(day)["call_id"].to_pylist()) == {"q"}


def test_profile_from_the_environment_and_bad_profile_values(tmp_path):
    env = load_settings(settings_for(tmp_path, "cn-2025").source, environ={"CALLQA_COMPLIANCE__PROFILE": "us-regf"})
    assert (env.compliance.profile, env.compliance.calling_hours_end, env.compliance.rules) == (
        "us-regf", "21:00", ("calling_hours", "attempts_7d", "cooldown_after_contact", "cease_contact"))
    assert load_settings(environ={}).compliance.profile == ""  # no profile: the keys' defaults
    with pytest.raises(ValueError, match="unknown rule"):
        settings_for(tmp_path, None, 'rules = ["calling_hours", "curfew"]\n')
    with pytest.raises(ValueError, match="unknown profile 'cn-2024'"):
        settings_for(tmp_path, "cn-2024")
    result = runner.invoke(app, ["--help"], catch_exceptions=False)
    assert all(c in result.stdout for c in ("import-attempts", "import-payments", "breaches"))
    result = runner.invoke(app, ["breaches", "--db", str(tmp_path / "none.duckdb"), "--since", "16/11/2026"],
                           catch_exceptions=False)
    assert result.exit_code == 2 and "--since '16/11/2026' is not a date" in result.stderr


def test_without_attempts_the_rules_agree_with_the_recordings_only_checks(test_data, sample_calls, tmp_path):
    """No attempt log, no profile: the same breaches as migration 002's compliance_breaches."""
    from tests.helpers.reporting_data import build_db

    db = build_db(tmp_path / "w.duckdb", test_data / "calls", sample_calls)
    legacy = {"outside_hours": "calling_hours", "attempt_cap": "attempts_7d", "after_contact": "cooldown_after_contact"}
    with Reports(db, load_settings(environ={}).compliance) as rep:
        old = {(legacy[b["rule"]], b["call_id"]) for b in rep.compliance_breaches()}
        new = {(b["rule"], b["call_id"]) for b in rep.collection_breaches()}
    assert len(old) == 12 and new == old


def test_an_account_purge_takes_its_attempts_and_payments_too(tmp_path):
    """An erasure by account reaches the dialer's and the payments logs (by account, not by
    call), in the purge's transaction; other accounts keep theirs."""
    db = land(tmp_path / "w.duckdb", [call_of("a1", "A1", at(16, 10), [HELLO, ME]),
                                      call_of("a2", "A2", at(16, 11), [HELLO, ME])])
    attempts = write_rows(tmp_path / "a.csv", ATTEMPT_HEADER, [attempt("A1", "13812345678", at(16, 9), True),
                                                               attempt("A2", "13912345678", at(16, 9), False)])
    payments = write_rows(tmp_path / "p.csv", ["account_id", "paid_at", "amount"], [["A1", "2026-11-17 10:00", "500"],
                                                               ["A2", "2026-11-17 10:00", "300"]])
    for command, sheet in (("import-attempts", attempts), ("import-payments", payments)):
        assert runner.invoke(app, [command, str(sheet), "--db", str(db)], catch_exceptions=False).exit_code == 0
    result = runner.invoke(app, ["purge", "--db", str(db), "--account-id", "A1", "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT DISTINCT account_id FROM attempts") == [("A2",)]
    assert rows(db, "SELECT DISTINCT account_id FROM payments") == [("A2",)]
    assert rows(db, "SELECT call_id FROM calls") == [("a2",)]
