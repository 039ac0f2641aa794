"""QA scorecards (issue 14): loading and validation, scoring the scripted calls, landing,
re-scoring a stored warehouse when a scorecard's version changes, reviewers' overrides, and
the report's score pages.

The scripted calls are built from their ground truth (tests/data/calls) and analysed by the
real detectors (analysis.analyze_call) and metrics (speech.metrics.measure_call): no ASR.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from analysis import analyze_call
from analysis.scorecards import (Scorecard, ScorecardError, load_scorecard, load_scorecards, parse_scorecard,
                                 round_score, score_call, scorecards_dir)
from callqa.cli import app
from core.domain import CallView, Finding, RoleMetrics, Utterance
from core.settings import ScoringSettings, load_settings
from flows.recording import score_processed
from flows.scoring import rescore
from tests.helpers.reporting_data import scripted_calls, synthetic_calls
from warehouse.scores import call_forms, call_views
from warehouse.staging import read_staged, stage_call, write_staged
from warehouse.store import Warehouse

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "scorecards" / "cuishou-default.yaml"
runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env)


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def analysed(test_data, sample_calls):
    """The six scripted calls, analysed by the real detectors (findings, labels, sentiment)."""
    calls = scripted_calls(test_data / "calls", sample_calls)
    for call in calls:
        call.findings = analyze_call(call.utterances)
    return {c.call.call_id: c for c in calls}


@pytest.fixture()
def cards(tmp_path) -> Path:
    """A scorecards folder of one's own, holding a copy of the default scorecard."""
    folder = tmp_path / "cards"
    folder.mkdir()
    shutil.copy(DEFAULT, folder / DEFAULT.name)
    return folder


def landed(db: Path, calls, settings) -> Path:
    """Land processed calls scored as the flow scores them (flows.recording.score_processed)."""
    for call in calls:
        call.scores = score_processed(call, settings)
    with Warehouse(db) as wh:
        wh.land(calls, [], wh.start_run("/archive", {}))
    return db


def stored(db: Path, sql: str, params=None):
    with Warehouse(db, read_only=True) as wh:
        return wh.con.execute(sql, params or []).fetchall()


# -- loading -----------------------------------------------------------------------------------

def test_default_scorecard_is_built_from_compliance_and_labels():
    card = load_scorecard(DEFAULT)
    assert (card.name, card.version) == ("cuishou-default", "1")
    items = {i.id: i for i in card.items}
    assert sum(i.weight for i in card.items) == 100
    steps = {i.target for i in card.items if i.kind == "step"}
    assert steps == {"identity_disclosure", "identity_verification", "purpose_disclosure", "repayment_options"}
    fatal = {(i.target, i.role) for i in card.items if i.fatal}
    assert fatal == {("threat", "collector"), ("abuse", "collector"), ("privacy", "collector")}
    assert items["identity_verification"].before == "purpose_disclosure"
    assert {i.target for i in card.items if i.kind == "metric"} >= {"silence_share", "interruptions_per_min",
                                                                    "talk_share", "speech_rate_cpm"}


def test_the_default_folder_is_found_from_any_working_directory(tmp_path, monkeypatch):
    """scorecards_dir is relative to the project (like asr.phantom_phrases), not the cwd."""
    monkeypatch.chdir(tmp_path)
    settings = ScoringSettings()
    assert scorecards_dir(settings) == REPO / "scorecards"
    assert [c.name for c in load_scorecards(settings)] == ["cuishou-default"]
    assert scorecards_dir(ScoringSettings(scorecards_dir=str(tmp_path))) == tmp_path


def test_scoring_settings_from_file_and_environment(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[scoring]\nscorecards_dir = "/srv/forms"\nscorecards = ["a", "b-2"]\n', encoding="utf-8")
    s = load_settings(toml, environ={})
    assert s.scoring == ScoringSettings("/srv/forms", ("a", "b-2"))
    assert load_settings(toml, environ={"CALLQA_SCORING__SCORECARDS": "[]"}).scoring.scorecards == ()
    for bad in ('["../etc/passwd"]', '["a", "a"]', '"x"'):
        toml.write_text(f"[scoring]\nscorecards = {bad}\n", encoding="utf-8")
        with pytest.raises(ValueError, match="scoring"):
            load_settings(toml, environ={})


def _card(**item) -> dict:
    base = {"id": "x", "weight": 10, "step": "identity_disclosure"}
    return {"name": "t", "version": 1, "sections": [{"id": "s", "items": [{**base, **item}]}]}


@pytest.mark.parametrize("data, needle", [
    ({"version": 1, "sections": []}, "name is missing"),
    ({"name": "t", "version": 1, "sections": []}, "sections must be a non-empty list"),
    ({"name": "t", "version": 1, "sections": [{"id": "s", "items": []}]}, "section s: items must be a non-empty list"),
    ({**_card(), "extra": 1}, "unknown key(s) extra"),
    (_card(finding="threat"), "item x: give exactly one signal of step, finding, metric, outcome (found step, finding)"),
    (_card(step=None), "item x: give exactly one signal of step, finding, metric, outcome (found none)"),
    (_card(step="identity_disclosur"), "item x: step must be one of identity_disclosure"),
    (_card(role="collector"), "item x: unknown key(s) role for a step item"),
    (_card(weight=0), "item x: weight must be > 0 for a non-fatal item"),
    (_card(weight=-5), "item x: weight must be >= 0"),
    (_card(weight="ten"), "item x: weight must be a number"),
    (_card(step=None, metric="silence_share"), "item x: a metric item needs min and/or max"),
    (_card(step=None, metric="silence_share", max=0.3, role="collector"), "item x: role must be one of all"),
    (_card(step=None, metric="talk_share", min=0.9, max=0.1), "item x: min 0.9 is above max 0.1"),
    (_card(step=None, metric="loudness", max=1), "item x: metric must be one of"),
    (_card(step=None, finding="Threat!"), "item x: finding 'Threat!' is not a finding kind"),
    (_card(step=None, finding="threat", role="boss"), "item x: role must be one of collector"),
    (_card(step=None, finding="threat", expect="maybe"), "item x: expect must be one of absent, present"),
    (_card(fatal="yes"), "item x: fatal must be true or false"),
    (_card(requires_role="debtor"), "item x: requires_role must be one of"),
    (_card(id="bad id"), "id 'bad id' is not an id"),
    ({"name": "t", "version": 1, "sections": [{"id": "s", "items": [
        {"id": "x", "weight": 1, "step": "identity_disclosure"}, {"id": "x", "weight": 1, "outcome": "promise_to_pay"},
    ]}]}, "item x: id used twice"),
])
def test_a_bad_scorecard_names_the_file_the_item_and_the_reason(data, needle, tmp_path):
    data = {k: v for k, v in data.items()}
    for section in data.get("sections", []):
        section["items"] = [{k: v for k, v in i.items() if v is not None} for i in section.get("items", [])]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScorecardError) as exc:
        load_scorecard(path)
    assert str(exc.value).startswith(f"{path}: ") and needle in str(exc.value), str(exc.value)


def test_unreadable_files_and_names(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nversion: 1\nsections:\n  - id: s\n    items: [ {id: x\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"t\.yaml: not valid YAML \(line \d+\)"):
        load_scorecard(bad)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(_card()), encoding="utf-8")
    with pytest.raises(ScorecardError, match="name 't' must be the file name without .yaml"):
        load_scorecard(other)
    with pytest.raises(ScorecardError, match=r"scorecard missing: .*missing\.yaml does not exist"):
        load_scorecards(ScoringSettings(str(tmp_path), ("missing",)))


def test_a_fatal_item_needs_no_weight():
    card = parse_scorecard({"name": "t", "version": 1, "sections": [{"id": "s", "items": [
        {"id": "x", "fatal": True, "finding": "threat"}]}]}, "t")
    assert card.items[0].weight == 0 and card.items[0].fatal
    with pytest.raises(ScorecardError, match="weight is missing"):
        parse_scorecard({"name": "t", "version": 1, "sections": [{"id": "s", "items": [
            {"id": "x", "step": "identity_disclosure"}]}]}, "t")


# -- scoring the scripted calls ------------------------------------------------------------------

def results(score) -> dict[str, str]:
    return {i.item_id: i.result for i in score.items}


def test_scripted_calls_score_as_their_scripts_say(analysed):
    card = load_scorecard(DEFAULT)
    scores = {cid: score_call(card, call) for cid, call in analysed.items()}
    for good in ("dev_call_01", "dev_call_04"):  # every step in order, polite, no misconduct
        assert scores[good].score >= 90 and not scores[good].fatal, results(scores[good])
        assert set(results(scores[good]).values()) == {"pass"}
    for bad in ("dev_call_02", "dev_call_05"):  # collector threatens and insults: fatal
        assert scores[bad].score == 0 and scores[bad].fatal
        assert results(scores[bad])["no_threats"] == "fail" and results(scores[bad])["no_abuse"] == "fail"
        assert results(scores[bad])["identity_verification"] == "fail"
    third = scores["dev_call_03"]  # the debt told to the debtor's mother
    assert third.score == 0 and third.fatal and results(third)["no_third_party_disclosure"] == "fail"
    assert results(third)["identity_disclosure"] == "na"  # the debtor was never reached
    failed = next(i for i in third.items if i.item_id == "no_third_party_disclosure")
    assert failed.finding_id == "dev_call_03#0" and "三万二" in failed.evidence
    decent = scores["dev_call_06"]  # a colleague answers; the collector discloses nothing
    assert not decent.fatal and decent.score == 100 and results(decent)["repayment_options"] == "na"


def view(utterances, findings=(), duration=60.0, metrics=()) -> CallView:
    findings = list(findings)
    return CallView("v", duration, list(utterances), findings, [f"v#{n}" for n in range(len(findings))],
                    list(metrics))


def test_each_kind_of_signal():
    card = parse_scorecard({"name": "t", "version": "2026-11", "sections": [{"id": "s", "items": [
        {"id": "early", "weight": 1, "step": "identity_disclosure", "within_s": 10},
        {"id": "ordered", "weight": 1, "step": "identity_verification", "before": "purpose_disclosure"},
        {"id": "promise", "weight": 3, "outcome": "promise_to_pay"},
        {"id": "no_cust_abuse", "weight": 1, "finding": "abuse", "role": "customer", "min_severity": "high"},
        {"id": "refusal", "weight": 1, "finding": "refusal_to_pay", "expect": "present", "requires_role": "customer"},
        {"id": "rate", "weight": 1, "metric": "speech_rate_cpm", "role": "collector", "min": 100},
    ]}]}, "t")
    utts = [Utterance("ch0", "collector", 12.0, 14.0, "我是银行的", labels=["identity_disclosure"]),
            Utterance("ch0", "collector", 15.0, 17.0, "您欠款两万", labels=["purpose_disclosure"]),
            Utterance("ch0", "collector", 18.0, 20.0, "请报身份证后四位", labels=["identity_verification"]),
            Utterance("ch1", "customer", 21.0, 23.0, "我下周一还两千,你个傻子")]
    found = [Finding("promise_to_pay", "customer", 21.0, 23.0, "我下周一还两千", "o.promise", 0.9, "info", 3),
             Finding("abuse", "customer", 21.0, 23.0, "你个傻子", "a.x", 0.9, "medium", 3)]
    score = score_call(card, view(utts, found))
    assert results(score) == {"early": "fail", "ordered": "fail", "promise": "pass", "no_cust_abuse": "pass",
                              "refusal": "fail", "rate": "na"}
    early = score.items[0]
    assert "after the first 10 s" in early.evidence and early.points == 0
    assert "after purpose_disclosure" in score.items[1].evidence
    assert score.items[2].finding_id == "v#0" and score.items[2].points == 3
    assert score.score == round_score(100 * 4 / 7) == 57.1 and score.version == "2026-11"
    metrics = [RoleMetrics("collector", 3, 6.0, 0.1, 30, 300.0, 0, 0.0, None, None)]
    assert results(score_call(card, view(utts, found, metrics=metrics)))["rate"] == "pass"
    alone = score_call(card, view(utts[:3]))  # nobody but the collector spoke
    assert results(alone)["refusal"] == "na"


def test_no_item_applies_and_rounding_like_duckdb():
    card = parse_scorecard(_card(requires_role="third_party"), "t")
    assert score_call(card, view([])).score is None
    assert round_score(6.25) == 6.3 and round_score(0.05) == 0.1 and round_score(77.77) == 77.8  # halves up
    assert round_score(100 * 1 / 16) == 6.3  # Python's round() says 6.2


# -- landing, re-scoring, overrides ------------------------------------------------------------

def test_landing_writes_call_scores(analysed, cfg, tmp_path):
    db = landed(tmp_path / "w.duckdb", list(analysed.values()), cfg)
    rows = dict((cid, (v, s, f)) for cid, v, s, f in stored(db, "SELECT call_id, version, score, fatal FROM call_scores"
                                                           " WHERE scorecard = 'cuishou-default'"))
    assert rows["dev_call_01"] == ("1", 100.0, False) and rows["dev_call_02"] == ("1", 0.0, True)
    assert rows["dev_call_03"][2] and len(rows) == 6
    # the effective view agrees with the stored score when nobody overrode anything
    assert stored(db, "SELECT count(*) FROM effective_call_scores WHERE score IS DISTINCT FROM detected_score") == [(0,)]
    # read back from the warehouse, a call scores exactly as it did at landing
    card = load_scorecard(DEFAULT)
    with Warehouse(db, read_only=True) as wh:
        for v in call_views(wh.con, sorted(analysed)):
            assert score_call(card, v) == analysed[v.call_id].scores[0]
        form = call_forms(wh.con, "dev_call_03")[0]
    item = next(i for i in form["items"] if i["item_id"] == "no_third_party_disclosure")
    assert (item["result"], item["finding_id"]) == ("fail", "dev_call_03#0")


def test_staged_calls_keep_their_scores(analysed, cfg, tmp_path):
    call = analysed["dev_call_04"]
    call.scores = score_processed(call, cfg)
    ref = write_staged(stage_call(call), call.call.sha256, tmp_path / "staging")
    back = read_staged(ref)
    assert back.tables["call_scores"].num_rows == 1
    (ref_dir := Path(ref.path), (ref_dir / "call_scores.parquet").unlink())  # staged by an older callqa
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.land([read_staged(ref)], [], wh.start_run("/a", {}))
        assert wh.con.execute("SELECT count(*) FROM calls").fetchone()[0] == 1


def test_a_scorecard_broken_mid_run_leaves_calls_unscored_not_failed(analysed, cfg, cards):
    (cards / "cuishou-default.yaml").write_text("name: cuishou-default\nversion: [\n", encoding="utf-8")
    settings = dataclasses.replace(cfg, scoring=ScoringSettings(str(cards)))
    assert score_processed(analysed["dev_call_01"], settings) == []


def _bump(cards: Path, version: int, **replace: str) -> None:
    path = cards / "cuishou-default.yaml"
    text = path.read_text(encoding="utf-8").replace("version: 1\n", f"version: {version}\n")
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_new_version_rescores_without_touching_utterances(analysed, cfg, cards, tmp_path):
    db = landed(tmp_path / "w.duckdb", list(analysed.values()), cfg)
    env = {"CALLQA_SCORING__SCORECARDS_DIR": str(cards)}
    fingerprint = "SELECT count(*), sum(hash(call_id, idx, text, labels, sentiment, start_s)) FROM utterances"
    before = stored(db, fingerprint) + stored(db, "SELECT count(*), sum(hash(finding_id, kind)) FROM findings")
    first = invoke("score", "--db", db, env=env)
    assert first.exit_code == 0 and "0 call(s) scored, 6 already at this version" in first.stdout
    # the QA lead tightens the silence limit (max 0.35 -> 0.15) and bumps the version
    _bump(cards, 2, **{"max: 0.35": "max: 0.15"})
    second = invoke("score", "--db", db, env=env)
    assert second.exit_code == 0 and "version 2: 6 call(s) scored, 0 already" in second.stdout, second.output
    assert stored(db, fingerprint) + stored(
        db, "SELECT count(*), sum(hash(finding_id, kind)) FROM findings") == before  # nothing re-analysed
    assert stored(db, "SELECT DISTINCT version FROM call_scores") == [("2",)]
    silence = dict(stored(db, "SELECT call_id, [i.result FOR i IN items IF i.item_id = 'silence'][1]"
                              " FROM call_scores"))
    assert silence["dev_call_01"] == "fail" and silence["dev_call_04"] == "pass"  # 16.9 % vs 12.3 % silence
    assert stored(db, "SELECT score FROM call_scores WHERE call_id = 'dev_call_01'") == [(95.0,)]
    assert "0 call(s) scored" in invoke("score", "--db", db, env=env).stdout  # nothing left to do
    assert "6 call(s) scored" in invoke("score", "--db", db, "--all", env=env).stdout


def test_rescore_scores_calls_landed_before_scoring_existed(test_data, sample_calls, tmp_path):
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:  # landed without scores (as by an older callqa)
        wh.land(scripted_calls(test_data / "calls", sample_calls) + synthetic_calls(), [], wh.start_run("/a", {}))
    done = rescore(db, [load_scorecard(DEFAULT)], batch=4)  # several batches, one transaction each
    assert done[0].scored == 17 and done[0].current == 0
    assert stored(db, "SELECT count(*) FROM call_scores") == [(17,)]


def test_score_check_and_bad_scorecards_on_the_command_line(cards, tmp_path):
    env = {"CALLQA_SCORING__SCORECARDS_DIR": str(cards)}
    ok = invoke("score", "--check", env=env)
    assert ok.exit_code == 0 and "conduct/no_third_party_disclosure: finding: privacy" in ok.stdout, ok.stdout
    assert "except_rules=call.privacy.before_verification" in ok.stdout and "fatal" in ok.stdout
    _bump(cards, 3, **{"step: repayment_options": "step: repayment"})
    for args in (["score", "--check"], ["score", "--db", tmp_path / "none.duckdb"], ["run", tmp_path]):
        one_line_error(invoke(*args, env=env), "scorecard:", "cuishou-default.yaml", "item repayment_options",
                       "step must be one of")
    assert not list(tmp_path.glob("*.duckdb")) and not (REPO / "var" / "typo.duckdb").exists()
    one_line_error(invoke("score", "--check", "--scorecard", "nope", env=env), "scorecard nope:", "does not exist")


def test_a_reviewer_override_changes_the_effective_score(analysed, cfg, tmp_path):
    db = landed(tmp_path / "w.duckdb", list(analysed.values()), cfg)
    args = ["review", "dev_call_01", "--db", db, "--scorecard", "cuishou-default", "--reviewer", "qa1"]
    out = invoke(*args, "--item", "repayment_options", "--result", "fail", "--note", "options not explained")
    assert out.exit_code == 0 and "effective score 85" in out.stdout, out.output
    effective = "SELECT score, detected_score, fatal, overrides FROM effective_call_scores WHERE call_id = ?"
    assert stored(db, effective, ["dev_call_01"]) == [(85.0, 100.0, False, 1)]
    assert invoke(*args, "--item", "repayment_options", "--result", "pass").exit_code == 0  # the latest counts
    assert stored(db, effective, ["dev_call_01"]) == [(100.0, 100.0, False, 1)]
    # a fatal item overridden to fail zeroes the score; stored detections are untouched
    assert invoke(*args, "--item", "no_abuse", "--result", "fail").exit_code == 0
    assert stored(db, effective, ["dev_call_01"]) == [(0.0, 100.0, True, 2)]
    assert stored(db, "SELECT score FROM call_scores WHERE call_id = 'dev_call_01'") == [(100.0,)]
    rows = stored(db, "SELECT item_id, result, reviewer, note FROM score_overrides ORDER BY reviewed_at")
    assert rows[0] == ("repayment_options", "fail", "qa1", "options not explained") and len(rows) == 3
    # re-scoring with a new version keeps the reviewers' results for the same items
    rescore(db, [dataclasses.replace(load_scorecard(DEFAULT), version="9")])
    assert stored(db, effective, ["dev_call_01"]) == [(0.0, 100.0, True, 2)]
    one_line_error(invoke(*args, "--item", "nope", "--result", "pass"), "item 'nope' is not on scorecard")
    one_line_error(invoke(*args[:1], "ghost", *args[2:], "--item", "no_abuse", "--result", "pass"),
                   "call 'ghost' is not in the warehouse")
    one_line_error(invoke(*args, "--item", "no_abuse"), "needs CALL_ID, --scorecard, --item and --result")
    one_line_error(invoke(*args, "--item", "no_abuse", "--result", "pass", "--verdict", "confirmed"),
                   "takes no --finding, --verdict")


def test_purge_removes_scores_and_overrides(analysed, cfg, tmp_path):
    db = landed(tmp_path / "w.duckdb", list(analysed.values()), cfg)
    assert invoke("review", "dev_call_02", "--db", db, "--scorecard", "cuishou-default", "--item", "no_abuse",
                  "--result", "pass").exit_code == 0
    assert invoke("purge", "--db", db, "--call-id", "dev_call_02", "--yes").exit_code == 0
    assert stored(db, "SELECT count(*) FROM call_scores WHERE call_id = 'dev_call_02'"
                      " UNION ALL SELECT count(*) FROM score_overrides") == [(0,), (0,)]


def test_report_shows_scores_and_each_calls_form(analysed, cfg, tmp_path):
    from datetime import date

    from callqa.report import build_report, rebuild_overview
    from warehouse.reporting import Window

    db = landed(tmp_path / "w.duckdb", list(analysed.values()), cfg)
    assert invoke("review", "dev_call_04", "--db", db, "--scorecard", "cuishou-default", "--item", "silence",
                  "--result", "fail", "--note", "<b>long hold</b>").exit_code == 0
    out = tmp_path / "report"
    build_report(db, out, cfg, audio=False, window=Window(date(2026, 11, 1), date(2026, 11, 30)))  # the calls' month
    scores = (out / "scores.html").read_text(encoding="utf-8")
    assert 'id="score-collectors"' in scores and "C017" in scores and "C023" in scores
    assert "dev_call_02" in scores and "2026-W45" in scores  # lowest scores; weekly trend
    page = next((out / "calls").glob("dev_call_04-*.html")).read_text(encoding="utf-8")
    assert 'id="scorecard-cuishou-default"' in page and "<b class=\"score\">95</b>" in page
    assert "set by" in page and "&lt;b&gt;long hold&lt;/b&gt;" in page and "<b>long hold" not in page
    third = next((out / "calls").glob("dev_call_03-*.html")).read_text(encoding="utf-8")
    assert 'href="#finding-0">dev_call_03#0</a>' in third and "fatal (致命项)" in third
    assert "scores.html" in (out / "index.html").read_text(encoding="utf-8")
    (out / "scores.html").unlink()
    assert out / "scores.html" in rebuild_overview(db, out, cfg)  # rebuilt with the overview (purges)


def test_views_read_back_never_raw_text(analysed, tmp_path):
    call = dataclasses.replace(analysed["dev_call_01"])
    call.raw_texts = ["RAW SECRET"] * len(call.utterances)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.land([call], [], wh.start_run("/a", {}))
        (v,) = call_views(wh.con, ["dev_call_01", "not-there"])
    assert all("RAW SECRET" not in u.text for u in v.utterances)


def test_scorecard_type_is_plain_data():
    card = load_scorecard(DEFAULT)
    assert isinstance(card, Scorecard) and card.path == DEFAULT
    assert [s.id for s in card.sections] == ["opening", "verification", "resolution", "conduct", "conversation"]


def test_the_shipped_scorecards_are_installed_with_the_code(tmp_path):
    """scorecards/ is a package whose YAML files are package data: a wheel puts them where
    scorecards_dir (relative to the project) finds them, as for speech/data/."""
    import tomllib
    from setuptools import find_packages

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = find_packages(str(REPO), include=project["packages"]["find"]["include"])
    assert "scorecards" in packages and "*.yaml" in project["package-data"]["*"]
    assert (REPO / "scorecards" / "__init__.py").is_file()


@pytest.mark.slow
def test_a_recording_processed_end_to_end_carries_its_scores(cfg, transcriber, sample_calls):
    """flows.recording.process_recording (real audio, the real Whisper model) scores the call."""
    from core.domain import Call
    from flows.recording import process_recording

    path = sample_calls / "dev_call_04.stereo.wav"
    result = process_recording(Call("dev_call_04", str(path), channel_roles=("collector", "customer")), cfg)
    (score,) = result.scores
    assert (score.call_id, score.scorecard, score.version) == ("dev_call_04", "cuishou-default", "1")
    assert not score.fatal and score.score >= 80, [(i.item_id, i.result, i.evidence) for i in score.items]
    assert "scoring" in result.timings


def test_a_rekeyed_call_keeps_its_form_and_overrides(analysed, cfg, tmp_path):
    """Scores name their findings by number, so a call re-keyed to its manifest id (every
    table, finding ids <old>#n -> <new>#n) links the same findings."""
    db = landed(tmp_path / "w.duckdb", [analysed["dev_call_03"]], cfg)
    assert invoke("review", "dev_call_03", "--db", db, "--scorecard", "cuishou-default", "--item", "collector_tone",
                  "--result", "pass").exit_code == 0
    with Warehouse(db) as wh:
        wh.rekey_call("dev_call_03", "M-03", wh.start_run("/a", {}))
        (form,) = call_forms(wh.con, "M-03")
    item = next(i for i in form["items"] if i["item_id"] == "no_third_party_disclosure")
    assert item["finding_id"] == "M-03#0" and form["overrides"] == 1
    assert stored(db, "SELECT count(*) FROM findings WHERE finding_id = 'M-03#0'") == [(1,)]
