"""Test warehouses for the reporting tests (helpers only, no tests here).

The six scripted calls are landed from their ground truth (``dev_call_0N.json`` in
tests/data/calls: turns, roles, labels) with their real recordings (samples/calls), so no ASR
is needed; extra synthetic calls exercise the
cross-call compliance rules, a missing recording, and hostile transcript text.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.domain import Call, Finding, ProcessedCall, Utterance, Word
from core.files import sha256_file
from speech.metrics import measure_call
from warehouse.store import Warehouse

SEVERITY = {
    "abuse": {"collector": "high", "customer": "medium"},
    "threat": {"collector": "critical", "customer": "high"},
    "privacy": {"collector": "high"},
    "self_harm": {"customer": "critical"},
    "pii": {},
}
STEPS = ("identity_disclosure", "identity_verification", "purpose_disclosure", "repayment_options")
_NUMBER = re.compile(r"[0-9零一二三四五六七八九幺两]{7,}")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _utterance(i: int, role: str, start: float, end: float, text: str, labels: list[str], channel: int) -> Utterance:
    if "pii" in labels:
        text = _NUMBER.sub("[电话]", text)
    step = (end - start) / max(len(text), 1)
    words = [Word(start + k * step, start + (k + 1) * step, ch, 0.9) for k, ch in enumerate(text)]
    negative = bool({"abuse", "threat", "self_harm"} & set(labels)) or "投诉" in text or "违法" in text
    return Utterance(speaker=f"ch{channel}", role=role, start=start, end=end, text=text, words=words,
                     channel=channel, labels=list(labels), sentiment="negative" if negative else "neutral")


def _findings(utts: list[Utterance]) -> list[Finding]:
    out = []
    for i, u in enumerate(utts):
        for label in u.labels:
            if label in SEVERITY:
                sev = SEVERITY[label].get(u.role, "low" if label == "pii" else "medium")
                out.append(Finding(label, u.role, u.start, u.end, u.text, f"test.{label}", 0.9, sev, i))
            elif label in STEPS:
                out.append(Finding(label, u.role, u.start, u.end, u.text, f"test.{label}", 0.8, "info", i))
    return out


def processed(call: Call, turns: list[tuple[str, float, float, str, list[str]]], duration: float) -> ProcessedCall:
    """A ProcessedCall from (role, start, end, text, labels) turns; metrics by speech.metrics."""
    roles = call.channel_roles or ("collector", "customer")
    utts = [_utterance(i, role, s, e, text, labels, roles.index(role) if role in roles else 1)
            for i, (role, s, e, text, labels) in enumerate(turns)]
    return ProcessedCall(call=call, duration=duration, channels=2, source_rate=8000, codec="pcm_s16le",
                         utterances=utts, findings=_findings(utts), metrics=measure_call(utts, duration),
                         diarization="channel", asr_model="ground-truth")


def scripted_calls(truth_dir: Path, audio_dir: Path, team: str = "T1",
                   campaign: str = "card-2026Q4") -> list[ProcessedCall]:
    """The six scripted dev calls, from their ground truth (``truth_dir``), pointing at their
    stereo recordings (in ``audio_dir``)."""
    out = []
    for meta_path in sorted(truth_dir.glob("dev_call_0*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        roles = tuple(meta["channels"][k] for k in sorted(meta["channels"]))
        audio = audio_dir / meta["audio"]["stereo"]
        call = Call(call_id=meta["call_id"], path=str(audio), sha256=sha256_file(audio),
                    size_bytes=audio.stat().st_size, collector_id=meta["collector_id"],
                    account_id=meta["account_id"], started_at=datetime.fromisoformat(meta["started_at"]),
                    timezone=meta["timezone"], direction="outbound", campaign=campaign, team=team,
                    channel_roles=roles)
        turns = [(t["role"], t["start"], t["end"], t["text"], t["labels"]) for t in meta["turns"]]
        out.append(processed(call, turns, meta["duration"]))
    return out


def synthetic_calls() -> list[ProcessedCall]:
    """Calls with no recording on disk that trigger each cross-call rule once or more.

    - account B1, collector C101: 9 outbound calls within 3 days, all in calling hours (cap 7:
      attempts 8 and 9 breach); each is a conversation, so every later one is 'after_contact'.
    - account B2: a call at 07:30 local time (outside hours), timezone empty (default applies).
    - account B3: an inbound call at 23:00 (never a breach) and a hostile transcript.
    """
    out = []
    base = datetime(2026, 11, 16, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai, a Monday
    for k in range(9):
        call = Call(call_id=f"syn/b1-{k}", path=f"/nonexistent/b1-{k}.wav", sha256=f"s{k}", size_bytes=1,
                    collector_id="C101", account_id="B1", started_at=base + timedelta(days=k // 4, hours=3 * (k % 4)),
                    timezone="Asia/Shanghai", direction="outbound", campaign="mortgage", team="T2",
                    channel_roles=("collector", "customer"))
        turns = [("collector", 0.5, 3.0, "您好,我是银行的客服。", ["identity_disclosure"]),
                 ("customer", 2.6, 6.0, "你烦不烦,滚!" if k % 3 == 0 else "我知道了。", ["abuse"] if k % 3 == 0 else [])]
        out.append(processed(call, turns, 8.0))
    early = Call(call_id="syn/b2-early", path="/nonexistent/b2.wav", sha256="b2", size_bytes=1, collector_id="C101",
                 account_id="B2", started_at=datetime(2026, 11, 17, 7, 30, tzinfo=timezone(timedelta(hours=8))),
                 timezone=None, direction="outbound", campaign="mortgage", team="T2")
    out.append(processed(early, [("collector", 0.5, 2.0, "早上好。", []), ("customer", 2.5, 4.0, "嗯。", [])], 5.0))
    hostile = Call(call_id="syn/b3 <hostile>", path="/nonexistent/b3.wav", sha256="b3", size_bytes=1,
                   collector_id="C101", account_id="B3",
                   started_at=datetime(2026, 11, 17, 23, 0, tzinfo=timezone(timedelta(hours=8))),
                   timezone="Asia/Shanghai", direction="inbound", campaign="mortgage", team="T2")
    out.append(processed(hostile, [("customer", 0.5, 3.0, HOSTILE, ["abuse"]),
                                   ("collector", 3.5, 5.0, "请您文明用语。", [])], 6.0))
    return out


def build_db(db: Path, truth_dir: Path, audio_dir: Path, *, synthetic: bool = True) -> Path:
    """Land the scripted (and synthetic) calls into a fresh warehouse at ``db``."""
    results = scripted_calls(truth_dir, audio_dir) + (synthetic_calls() if synthetic else [])
    with Warehouse(db) as wh:
        run = wh.start_run(str(audio_dir), {})
        wh.land(results, [], run)
        wh.finish_run(run, discovered=len(results), skipped=0, landed=len(results), failed=0, audio_seconds=0.0)
    return db
