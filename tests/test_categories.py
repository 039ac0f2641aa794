"""Custom categories and replaced detector packs ([analysis] rules_dirs, issue 14).

The sample folder tests/data/categories holds seven categories and a centre's own threat pack;
they are evaluated on the six scripted calls' ground truth (turns with times, roles, text) with
real metrics (speech.metrics), landed into a real DuckDB, and checked with `callqa rules check`
and `callqa analyze-text --config`.
"""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from analysis import analyze_call
from analysis.categories import CategoryView, CategoryUtterance, call_view, evaluate_categories, unjudged_rules
from analysis.rules import Catalog, PackError, catalog, pack
from callqa.cli import app
from core.domain import RoleMetrics, Utterance
from core.settings import load_settings
from speech.metrics import measure_call
from tests.helpers.reporting_data import scripted_calls
from warehouse.store import Warehouse

runner = CliRunner()

# (call, category, rule id, role, utterance index) of every category hit on the scripted calls.
EXPECTED = {
    ("dev_call_02", "greeting_missing", "greeting_missing.first_10s", "collector", None),
    ("dev_call_05", "greeting_missing", "greeting_missing.first_10s", "collector", None),
    ("dev_call_03", "third_party_disclosure_late", "third_party_disclosure_late.debt_after_third_party", "collector", 1),
    ("dev_call_03", "long_silence", "long_silence.share", "collector", None),
    ("dev_call_02", "proximity", "proximity.pay_today", "collector", 4),
    ("dev_call_02", "proximity", "proximity.complaint_brushed_off", "collector", 5),
    ("dev_call_02", "complaint", "complaint.says_complaint", "customer", 5),
    ("dev_call_02", "no_thanks_at_end", "no_thanks_at_end.last_10s", "collector", None),
    ("dev_call_03", "no_thanks_at_end", "no_thanks_at_end.last_10s", "collector", None),
    ("dev_call_05", "no_thanks_at_end", "no_thanks_at_end.last_10s", "collector", None),
    ("dev_call_02", "angry_customer", "angry_customer.negative", "customer", None),
    ("dev_call_04", "angry_customer", "angry_customer.negative", "customer", None),
    ("dev_call_05", "angry_customer", "angry_customer.negative", "customer", None),
}
CATEGORIES = {"greeting_missing", "third_party_disclosure_late", "long_silence", "proximity", "complaint",
              "no_thanks_at_end", "angry_customer"}


@pytest.fixture(scope="module")
def sample_catalog(test_data) -> Catalog:
    return catalog((str(test_data / "categories"),))


def ground_truth(test_data: Path) -> dict[str, tuple[list[Utterance], float]]:
    """Each scripted call's turns as Utterances (no labels: analysis sets them) and its duration."""
    out = {}
    for path in sorted((test_data / "calls").glob("dev_call_0*.json")):
        meta = json.loads(path.read_text(encoding="utf-8"))
        utts = [Utterance(speaker=t["role"], role=t["role"], start=t["start"], end=t["end"], text=t["text"])
                for t in meta["turns"]]
        out[meta["call_id"]] = (utts, meta["duration"])
    return out


def category_hits(call_id: str, findings) -> set[tuple]:
    return {(call_id, f.kind, f.rule_id, f.role, f.utterance_index) for f in findings if f.kind in CATEGORIES}


@pytest.fixture(scope="module")
def analysed(test_data, sample_catalog):
    """call id -> findings of analyze_call with the sample catalog, metrics and duration."""
    out = {}
    for call_id, (utts, duration) in ground_truth(test_data).items():
        out[call_id] = analyze_call(utts, catalog=sample_catalog, metrics=measure_call(utts, duration),
                                    duration=duration)
    return out


# ---- the sample folder on the scripted calls ---------------------------------------------

def test_sample_categories_hit_exactly_the_expected_calls(analysed):
    hits = set().union(*(category_hits(cid, fs) for cid, fs in analysed.items()))
    assert hits == EXPECTED


def test_category_findings_carry_span_evidence_severity_from_the_pack(analysed):
    by = {(f.kind, f.rule_id): f for f in analysed["dev_call_02"] if f.kind in CATEGORIES}
    greeting = by["greeting_missing", "greeting_missing.first_10s"]
    assert (greeting.start, greeting.end, greeting.severity, greeting.score) == (0.0, 10.0, "low", 0.9)
    assert greeting.evidence == "collector did not say 您好/你好 in the first 10 s"
    pay = by["proximity", "proximity.pay_today"]
    assert (pay.start, pay.end) == (19.808, 24.807) and "今天不还钱" in pay.evidence
    brushed = by["proximity", "proximity.complaint_brushed_off"]  # two utterances 0.79 s apart
    assert (brushed.start, brushed.end) == (25.647, 33.762) and "随便你投诉" in brushed.evidence
    late = next(f for f in analysed["dev_call_03"] if f.kind == "third_party_disclosure_late")
    assert late.severity == "high" and late.score == 0.85 and "我是她妈妈" in late.evidence
    silence = next(f for f in analysed["dev_call_03"] if f.kind == "long_silence")
    assert silence.evidence == "silence share 0.21 (> 0.2)" and (silence.start, silence.end) == (0.0, 24.03)


def test_evidence_is_redacted(sample_catalog):
    utts = [Utterance("ch1", "customer", 0.5, 4.0, "我要投诉,我的电话是13912345678")]
    fs = analyze_call(utts, catalog=sample_catalog, metrics=measure_call(utts, 5.0), duration=5.0)
    (f,) = [f for f in fs if f.kind == "complaint"]
    assert "13912345678" not in f.evidence and "[电话]" in f.evidence


def test_a_pack_named_like_a_builtin_replaces_it(analysed, test_data, sample_catalog):
    threats = [(cid, f.rule_id, f.utterance_index) for cid, fs in analysed.items() for f in fs if f.kind == "threat"]
    assert threats == [("dev_call_02", "centre.threat.visit_work", 4)]
    builtin = [(cid, f.utterance_index) for cid, (utts, _) in ground_truth(test_data).items()
               for f in analyze_call(utts) if f.kind == "threat"]
    assert builtin == [("dev_call_02", 4), ("dev_call_02", 6), ("dev_call_05", 2)]
    assert pack("threat").version != "centre-2026.12.1"           # pack(name): still the built-in
    assert sample_catalog.pack("threat").version == "centre-2026.12.1"
    assert sample_catalog.pack("abuse") is pack("abuse")
    assert sample_catalog.versions()["greeting_missing"] == "2026.12.1"


def test_catalog_is_cached_per_tuple_of_folders(test_data, tmp_path):
    folder = str(test_data / "categories")
    assert catalog((folder,)) is catalog((folder,))
    assert catalog(()).categories == {} and catalog(()).overrides == {}
    assert catalog((folder,)) is not catalog((folder, str(write_packs(tmp_path, {}))))


# ---- conditions on small calls -----------------------------------------------------------

def view(*turns, duration=None, metrics=True, timed=True) -> CategoryView:
    """A CategoryView from (role, start, end, text[, sentiment]) with measured metrics."""
    utts = [Utterance("s", t[0], t[1], t[2], t[3], sentiment=t[4] if len(t) > 4 else "neutral") for t in turns]
    duration = duration if duration is not None else max(u.end for u in utts)
    return call_view(utts, duration, measure_call(utts, duration) if metrics else None, timed=timed)


def rules_in(tmp_path: Path, body: str) -> Catalog:
    return Catalog((str(write_packs(tmp_path, {"cat.yaml": f"pack: cat\nrules:\n{body}"})),))


def write_packs(tmp_path: Path, packs: dict[str, str]) -> Path:
    folder = tmp_path / f"packs{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    for name, text in packs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def hit_rules(cat: Catalog, v: CategoryView) -> list[str]:
    return [f.rule_id for f in evaluate_categories(v, cat)]


def test_first_and_last_seconds_are_judged_on_utterance_start_and_end(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: first, conditions: [{said: {role: collector, phrases: [您好], first_s: 5}}]}
  - {id: last, conditions: [{said: {role: collector, phrases: [再见], last_s: 5}}]}
""")
    assert hit_rules(cat, view(("collector", 4.9, 6.0, "您好"), ("collector", 15.1, 16.0, "再见"), duration=20)) == [
        "first", "last"]
    assert hit_rules(cat, view(("collector", 5.0, 6.0, "您好"), ("collector", 14.0, 15.0, "再见"), duration=20)) == []
    assert hit_rules(cat, view(("customer", 1.0, 2.0, "您好"), duration=20)) == []       # another role
    assert hit_rules(cat, view(("unknown", 1.0, 2.0, "您好"), duration=20)) == ["first"]  # unknown counts for any


def test_all_any_none(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: all, conditions: [{all: [{said: {phrases: [甲]}}, {said: {phrases: [乙]}}]}]}
  - {id: any, conditions: [{any: [{said: {phrases: [甲]}}, {said: {phrases: [乙]}}]}]}
  - {id: none, conditions: [{none: [{said: {phrases: [甲]}}, {said: {phrases: [乙]}}]}]}
""")
    assert hit_rules(cat, view(("collector", 0, 1, "甲"), ("customer", 1, 2, "乙"))) == ["all", "any"]
    assert hit_rules(cat, view(("collector", 0, 1, "甲"))) == ["any"]
    assert hit_rules(cat, view(("collector", 0, 1, "丙"))) == ["none"]


def test_near_in_characters_and_seconds(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: chars, conditions: [{near: {a: 还款, b: 今天, within_chars: 8}}]}
  - {id: ordered, conditions: [{near: {a: 今天, b: 还款, within_chars: 8, ordered: true}}]}
  - {id: secs, conditions: [{near: {a: 律师, b: 起诉, within_s: 3}}]}
""")
    assert hit_rules(cat, view(("collector", 0, 1, "你今天必须把钱还款"))) == ["chars", "ordered"]
    assert hit_rules(cat, view(("collector", 0, 1, "还款的事情今天要定"))) == ["chars"]   # 还款 first: not ordered
    assert hit_rules(cat, view(("collector", 0, 1, "今天天气很好,我们明天再说还款的事"))) == []  # 11 chars apart
    assert hit_rules(cat, view(("collector", 0, 2, "我们有律师"), ("collector", 4.9, 6, "会起诉你"))) == ["secs"]
    assert hit_rules(cat, view(("collector", 0, 2, "我们有律师"), ("collector", 5.1, 6, "会起诉你"))) == []


def test_silence_interruptions_and_sentiment_from_metrics(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: silence, conditions: [{silence: {above: 0.4}}]}
  - {id: interrupts, role: collector, conditions: [{interruptions: {role: collector, at_least: 2}}]}
  - {id: negative, conditions: [{negative_share: {role: customer, above: 0.5}}]}
  - {id: falling, conditions: [{negative_trajectory: {role: customer}}]}
""")
    # 60 s call, 20 s of speech: silence 2/3. The collector starts twice over the customer (>= 0.3 s).
    busy = view(("customer", 0, 5, "我最近很好", "positive"), ("collector", 4, 8, "您听我说"),
                ("customer", 8, 12, "嗯", "neutral"), ("collector", 11, 14, "您先别急"),
                ("customer", 14, 20, "烦死了", "negative"), duration=60)
    assert busy.metrics["collector"].interruptions == 2
    assert hit_rules(cat, busy) == ["silence", "interrupts", "falling"]
    talkative = view(("customer", 0, 30, "烦", "negative"), ("collector", 30, 60, "好的"), duration=60)
    assert hit_rules(cat, talkative) == ["negative"]          # 1/1 negative, no silence, no interruptions
    (f,) = [f for f in evaluate_categories(busy, cat) if f.rule_id == "interrupts"]
    assert f.role == "collector" and f.evidence == "collector interruptions 2.00/min (>= 2)"


def test_time_and_metric_conditions_are_skipped_when_the_view_lacks_them(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: text, conditions: [{not_said: {phrases: [您好]}}]}
  - {id: timed, conditions: [{not_said: {phrases: [您好], first_s: 10}}]}
  - {id: measured, conditions: [{silence: {above: 0.1}}]}
""")
    turns = (("collector", 20, 21, "喂"),)
    assert hit_rules(cat, view(*turns, duration=60)) == ["text", "timed", "measured"]
    assert hit_rules(cat, view(*turns, duration=60, metrics=False)) == ["text", "timed"]
    assert hit_rules(cat, view(*turns, duration=60, metrics=False, timed=False)) == ["text"]
    assert unjudged_rules(cat) == ["timed", "measured"]


def test_pattern_rules_in_a_category_give_one_finding_per_utterance(tmp_path):
    cat = rules_in(tmp_path, """
  - {id: weak, score: 0.5, roles: [customer], patterns: [投诉]}
  - {id: strong, score: 0.8, roles: [customer], patterns: [投诉你]}
""")
    fs = evaluate_categories(view(("customer", 0, 1, "我要投诉你"), ("collector", 1, 2, "投诉你"),
                                  ("customer", 2, 3, "我去投诉")), cat)
    assert [(f.kind, f.rule_id, f.utterance_index, f.severity) for f in fs] == [
        ("cat", "strong", 0, "medium"), ("cat", "weak", 2, "medium")]


@pytest.fixture(scope="module")
def landed_db(tmp_path_factory, test_data, sample_calls, sample_catalog) -> Path:
    """The scripted calls landed in a real DuckDB with findings from analyze_call and the catalog."""
    results = scripted_calls(test_data / "calls", sample_calls)
    for pc in results:
        pc.findings = analyze_call(pc.utterances, catalog=sample_catalog, metrics=pc.metrics, duration=pc.duration)
    db = tmp_path_factory.mktemp("landed") / "qa.duckdb"
    with Warehouse(db) as wh:
        run = wh.start_run(str(sample_calls), {})
        wh.land(results, [], run)
        wh.finish_run(run, discovered=6, skipped=0, landed=6, failed=0, audio_seconds=0.0)
    return db


def test_category_hits_land_as_findings_and_flags(landed_db):
    con = duckdb.connect(str(landed_db), read_only=True)
    try:
        landed, flagged = ({tuple(r) for r in con.execute(
            f"SELECT call_id, kind, rule_id, role, utterance_idx FROM {table} WHERE kind IN (SELECT unnest(?))",
            [sorted(CATEGORIES)]).fetchall()} for table in ("findings", "flagged_findings"))
        precision = {r[0] for r in con.execute("SELECT kind FROM detector_precision").fetchall()}
    finally:
        con.close()
    assert landed == flagged == EXPECTED        # every sample category is above info severity
    assert CATEGORIES <= precision              # the review loop counts them like built-in kinds


def test_category_kinds_are_sampled_and_reported(landed_db, tmp_path, cfg):
    from callqa.report import build_report
    from warehouse.review import sample

    picked = {row["kind"] for row in sample(landed_db, 200, by=["kind"])}
    assert CATEGORIES <= picked
    build_report(landed_db, tmp_path / "report", cfg, audio=False)
    pages = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "report").rglob("*.html"))
    assert all(kind in pages for kind in CATEGORIES)


def test_a_landed_call_read_back_gives_the_same_hits(landed_db, sample_catalog):
    """What re-scoring a warehouse does: utterances, metrics and duration read back from
    DuckDB, no re-transcription, evaluated with evaluate_categories."""
    con = duckdb.connect(str(landed_db), read_only=True)
    rescored = set()
    try:
        for call_id, duration in con.execute("SELECT call_id, duration_s FROM calls ORDER BY call_id").fetchall():
            utts = [Utterance("", role, s, e, text, sentiment=sent) for role, s, e, text, sent in con.execute(
                "SELECT role, start_s, end_s, text, sentiment FROM utterances WHERE call_id = ? ORDER BY idx",
                [call_id]).fetchall()]
            metrics = [RoleMetrics(*r) for r in con.execute(
                "SELECT role, n_utterances, talk_s, talk_share, n_chars, speech_rate_cpm, interruptions, overlap_s,"
                " silence_s, loudness_dbfs FROM call_metrics WHERE call_id = ?", [call_id]).fetchall()]
            rescored |= category_hits(call_id, evaluate_categories(call_view(utts, duration, metrics), sample_catalog))
    finally:
        con.close()
    assert rescored == EXPECTED


def test_rules_apply_adds_categories_to_an_existing_warehouse(tmp_path, test_data, sample_calls):
    """Calls landed before the categories existed get them from `callqa rules apply`: read back
    from DuckDB, nothing re-transcribed; utterances and the other findings stay as they were;
    applying again changes nothing."""
    results = scripted_calls(test_data / "calls", sample_calls)
    for pc in results:
        pc.findings = analyze_call(pc.utterances, metrics=pc.metrics, duration=pc.duration)  # no categories yet
    db = tmp_path / "qa.duckdb"
    with Warehouse(db) as wh:
        wh.land(results, [], wh.start_run(str(sample_calls), {}))
    config = tmp_path / "qa.toml"
    config.write_text(f"[analysis]\nrules_dirs = [{json.dumps(str(test_data / 'categories'))}]\n", encoding="utf-8")

    def state():
        con = duckdb.connect(str(db), read_only=True)
        try:
            utterances = con.execute("SELECT * EXCLUDE (land_seq) FROM utterances ORDER BY call_id, idx").fetchall()
            others = con.execute("SELECT * EXCLUDE (land_seq) FROM findings WHERE kind NOT IN (SELECT unnest(?))"
                                 " ORDER BY finding_id",
                                 [sorted(CATEGORIES)]).fetchall()
            hits = con.execute("SELECT call_id, kind, rule_id, role, utterance_idx, finding_id FROM findings"
                               " WHERE kind IN (SELECT unnest(?))", [sorted(CATEGORIES)]).fetchall()
        finally:
            con.close()
        return utterances, others, hits

    utterances, others, hits = state()
    assert hits == []
    for attempt in (1, 2):
        result = runner.invoke(app, ["rules", "apply", "--db", str(db), "-c", str(config)])
        assert result.exit_code == 0, result.output
        assert f"on 6 call(s): {len(EXPECTED)} finding(s)" in result.output
        now_utterances, now_others, now_hits = state()
        assert now_utterances == utterances and now_others == others
        assert {h[:5] for h in now_hits} == EXPECTED and len(now_hits) == len(EXPECTED)
        assert len({h[5] for h in now_hits} | {o[0] for o in others}) == len(now_hits) + len(others)  # ids unique
    # the calls land again (changed recordings): the applied findings go with their old rows
    for pc in results:
        pc.call.sha256 += "-2"
    with Warehouse(db) as wh:
        wh.land(results, [], wh.start_run(str(sample_calls), {}))
    assert state()[2] == [] and state()[1] == others
    no_categories = tmp_path / "none.toml"
    no_categories.write_text("", encoding="utf-8")
    refused = runner.invoke(app, ["rules", "apply", "--db", str(db), "-c", str(no_categories)])
    assert refused.exit_code == 2 and "no categories configured" in refused.output


# ---- bad packs ----------------------------------------------------------------------------

BAD = {
    "unknown slot": ("pack: p\nrules:\n  - {id: p.a, patterns: ['{NOPE}']}\n", "p.a", "unknown slot {NOPE}"),
    "bad regex": ("pack: p\nrules:\n  - {id: p.a, conditions: [{said: {phrases: ['(open']}}]}\n", "p.a",
                  "bad regex in conditions[0].said.phrases[0]: missing ), unterminated subpattern"),
    "unknown condition": ("pack: p\nrules:\n  - {id: p.a, conditions: [{sayd: {phrases: [x]}}]}\n", "p.a",
                          "conditions[0]: unknown condition 'sayd' (known: said, not_said, near"),
    "missing id": ("pack: p\nrules:\n  - {patterns: [x]}\n", "#1", "missing field id"),
    "missing phrases": ("pack: p\nrules:\n  - {id: p.a, conditions: [{not_said: {role: collector, first_s: 10}}]}\n",
                        "p.a", "conditions[0].not_said: missing field phrases"),
    "wrong type": ("pack: p\nrules:\n  - {id: p.a, conditions: [{said: {phrases: [x], first_s: ten}}]}\n", "p.a",
                   "conditions[0].said.first_s must be a number, got 'ten'"),
    "wrong score": ("pack: p\nrules:\n  - {id: p.a, score: high, patterns: [x]}\n", "p.a",
                    "score must be a number, got 'high'"),
    "share as percent": ("pack: p\nrules:\n  - {id: p.a, conditions: [{silence: {above: 40}}]}\n", "p.a",
                         "conditions[0].silence.above must be between 0.0 and 1.0, got 40"),
    "unknown field": ("pack: p\nrules:\n  - {id: p.a, pattern: [x]}\n", "p.a", "unknown field 'pattern'"),
    "unknown role": ("pack: p\nrules:\n  - {id: p.a, conditions: [{said: {role: agent, phrases: [x]}}]}\n", "p.a",
                     "conditions[0].said.role must be one of collector, customer, third_party"),
    "both kinds": ("pack: p\nrules:\n  - {id: p.a, patterns: [x], conditions: [{silence: {above: 0.1}}]}\n", "p.a",
                   "use either patterns/intents or conditions"),
    "bad severity": ("pack: p\nrules:\n  - {id: p.a, severity: urgent, patterns: [x]}\n", "p.a",
                     "severity must be one of info, low, medium, high, critical"),
    "no limit": ("pack: p\nrules:\n  - {id: p.a, conditions: [{silence: {}}]}\n", "p.a",
                 "conditions[0].silence needs a limit"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_pack_names_file_rule_and_reason(tmp_path, case):
    text, rule_id, reason = BAD[case]
    folder = write_packs(tmp_path, {"p.yaml": text})
    with pytest.raises(PackError) as info:
        Catalog((str(folder),))
    assert str(info.value).startswith(f"{folder / 'p.yaml'}: rule {rule_id}: {reason}"), str(info.value)


@pytest.mark.parametrize("name,text,reason", [
    ("bad_yaml.yaml", "pack: x\nrules: [ {id: a\n", "bad YAML at line 3"),
    ("missing_steps.yaml", "rules:\n  - {id: a, patterns: [x]}\n", "'missing_steps' is a built-in finding kind"),
    ("pii.yaml", "rules:\n  - {id: a, patterns: [x]}\n", "'pii' is a built-in pack that cannot be replaced"),
    ("steps.yaml", "rules:\n  - {id: a, label: greeting, patterns: [x]}\n",
     "rule a: label 'greeting' is not one the steps detector reports"),
    ("threat.yaml", "kind: category\nrules:\n  - {id: a, patterns: [x]}\n", "'threat' is the name of a built-in pack"),
    ("empty.yaml", "pack: empty\nrules: []\n", "rules must be a non-empty list"),
    ("label.yaml", "rules:\n  - {id: a, label: other, patterns: [x]}\n", "label 'other' is not the category 'label'"),
    ("dup.yaml", "rules:\n  - {id: a, patterns: [x]}\n  - {id: a, patterns: [y]}\n", "rule a: duplicate rule id"),
    ("Bad-Name.yaml", "rules:\n  - {id: a, patterns: [x]}\n", "pack must be a name of lower-case letters"),
])
def test_bad_pack_files(tmp_path, name, text, reason):
    folder = write_packs(tmp_path, {name: text})
    with pytest.raises(PackError) as info:
        Catalog((str(folder),))
    assert str(info.value).startswith(str(folder / name)) and reason in str(info.value), str(info.value)


def test_every_problem_is_listed_and_a_missing_folder_is_one(tmp_path):
    folder = write_packs(tmp_path, {k.replace(" ", "_") + ".yaml": v[0].replace("pack: p", f"pack: p{i}")
                                    for i, (k, v) in enumerate(BAD.items())})
    with pytest.raises(PackError) as info:
        Catalog((str(folder), str(tmp_path / "nowhere")))
    assert len(info.value.problems) == len(BAD) + 1
    assert str(info.value.problems[-1]) == f"{tmp_path / 'nowhere'}: no such folder"
    assert f"and {len(BAD)} more" in str(info.value)


# ---- settings and commands ---------------------------------------------------------------

def test_rules_dirs_setting(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[analysis]\nrules_dirs = ["qa/categories", "centre"]\n', encoding="utf-8")
    assert load_settings(cfg, environ={}).analysis.rules_dirs == ("qa/categories", "centre")
    assert load_settings(None, environ={"CALLQA_ANALYSIS__RULES_DIRS": '["x"]'}).analysis.rules_dirs == ("x",)
    cfg.write_text('[analysis]\nrules_dirs = "qa"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="analysis.rules_dirs must be a list of strings"):
        load_settings(cfg, environ={})


def test_rules_check_good_folder(test_data):
    result = runner.invoke(app, ["rules", "check", str(test_data / "categories")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 8 pack(s), 9 rule(s): 7 categories, 1 replaced built-in pack(s)")
    assert "category  greeting_missing" in result.stdout and "replaces  threat" in result.stdout


def test_rules_check_bad_folder_one_line_per_problem(tmp_path):
    folder = write_packs(tmp_path, {"a.yaml": BAD["unknown slot"][0].replace("pack: p", "pack: a"),
                                    "b.yaml": BAD["unknown condition"][0].replace("pack: p", "pack: b"),
                                    "c.yaml": BAD["missing id"][0].replace("pack: p", "pack: c")})
    result = runner.invoke(app, ["rules", "check", str(folder)], catch_exceptions=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {folder / 'a.yaml'}: rule p.a: unknown slot {{NOPE}} (the pack defines no slots)",
                     f"error: {folder / 'b.yaml'}: rule p.a: conditions[0]: unknown condition 'sayd' (known: said, "
                     "not_said, near, all, any, none, silence, interruptions, negative_share, negative_trajectory)",
                     f"error: {folder / 'c.yaml'}: rule #1: missing field id"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["rules", "check", str(empty), str(tmp_path / "nowhere")], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'}: no such folder",
                                                  f"error: {empty}: no rule packs (*.yaml) in this folder"]


def test_analyze_text_config_applies_categories_and_replacements(tmp_path, test_data):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[analysis]\nrules_dirs = ["{(test_data / "categories").as_posix()}"]\n', encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"call_id": "a", "role": "collector", "text": "喂,你今天不还钱,明天我们就去你公司找你领导。"},
        {"call_id": "a", "role": "customer", "text": "你们这样是违法的,我要投诉你。"},
        {"call_id": "b", "role": "collector", "text": "您好,通讯录里的人我们都会一个一个打过去。"},
    ]), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["analyze-text", str(rows), "-o", str(out), "--config", str(cfg)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["categories"] for r in got] == [["angry_customer", "proximity"], ["complaint"], []]
    assert "threat" in got[0]["labels"] and "threat" not in got[2]["labels"]   # the centre's threat pack
    assert "5 category rule(s) not judged on text (they need times or metrics)" in result.stderr
    plain = runner.invoke(app, ["analyze-text", str(rows)], catch_exceptions=False)
    assert plain.exit_code == 0 and "categories" not in plain.stdout
    assert "threat" in json.loads(plain.stdout.splitlines()[2])["labels"]      # built-in threat pack
    help_text = " ".join(runner.invoke(app, ["analyze-text", "--help"]).stdout.replace("│", " ").split())
    assert "time and metric conditions" in help_text and "are skipped" in help_text


def test_a_bad_pack_in_the_config_is_one_line_before_any_work(tmp_path):
    folder = write_packs(tmp_path, {"p.yaml": BAD["bad regex"][0]})
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[analysis]\nrules_dirs = ["{folder.as_posix()}"]\n', encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"role": "collector", "text": "您好"}\n', encoding="utf-8")
    archive = tmp_path / "archive"
    archive.mkdir()
    for args in (["analyze-text", str(rows), "-o", str(tmp_path / "o.jsonl")], ["run", str(archive)]):
        result = runner.invoke(app, [*args, "--config", str(cfg)], catch_exceptions=False)
        assert result.exit_code == 2 and "Traceback" not in result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"error: analysis.rules_dirs: {folder / 'p.yaml'}: rule p.a: bad regex")
    assert not (tmp_path / "o.jsonl").exists()


def test_utterance_views_are_plain_data():
    u = CategoryUtterance("collector", 0.0, 1.0, "您好", "您好", "neutral")
    v = CategoryView(1.0, (u,), None, timed=False)
    assert v.provides == frozenset() and v.utterances[0].norm == "您好"


@pytest.mark.slow
def test_the_flow_runs_the_configured_categories(cfg, transcriber, sample_calls, test_data):
    """process_recording (real Whisper) uses settings.analysis.rules_dirs: the catalog's
    categories, with the call's measured metrics and duration."""
    from core.domain import Call
    from flows.recording import process_recording

    settings = cfg.with_overrides({"analysis.rules_dirs": (str(test_data / "categories"),)})
    audio = sample_calls / "dev_call_02.stereo.wav"
    result = process_recording(Call(call_id="dev_call_02", path=str(audio)), settings)
    (greeting,) = [f for f in result.findings if f.kind == "greeting_missing"]
    assert (greeting.role, greeting.start, greeting.end) == ("collector", 0.0, 10.0)
    assert result.timings["metrics"] >= 0 and result.timings["analysis"] >= 0
