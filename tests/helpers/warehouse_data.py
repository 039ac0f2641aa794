"""Hand-built ProcessedCall rows for the warehouse, staging and purge tests (helpers only)."""
from datetime import datetime, timezone

from core.domain import Call, Finding, ProcessedCall, RoleMetrics, Utterance, Word


def processed(call_id: str, sha: str, n_utts: int = 3, text: str = "您好") -> ProcessedCall:
    call = Call(call_id=call_id, path=f"/archive/{call_id}.wav", sha256=sha, size_bytes=1000,
                collector_id="C1", account_id="A1", timezone="Asia/Shanghai",
                started_at=datetime(2026, 11, 2, 23, 30, tzinfo=timezone.utc), channel_roles=("collector", "customer"))
    utts = [Utterance(speaker=f"ch{i % 2}", role=("collector", "customer")[i % 2], start=i * 2.0, end=i * 2.0 + 1.5,
                      text=f"{text}{i}", words=[Word(i * 2.0, i * 2.0 + 1.5, f"{text}{i}", 0.9)], channel=i % 2,
                      labels=["abuse"] if i == 1 else [], sentiment="neutral") for i in range(n_utts)]
    findings = [Finding(kind="abuse", role="customer", start=2.0, end=3.5, evidence="[redacted]", rule_id="r1",
                        score=0.9, severity="medium", utterance_index=1)]
    metrics = [RoleMetrics("all", n_utts, 4.5, 0.5, 9, 120.0, 0, 0.0, 4.5, -20.0)]
    return ProcessedCall(call=call, duration=9.0, channels=2, source_rate=8000, codec="pcm_s16le", utterances=utts,
                         findings=findings, metrics=metrics, diarization="channel", asr_model="whisper-base")


def counts(con, call_id=None):
    where = f" WHERE call_id = '{call_id}'" if call_id else ""
    return {t: con.execute(f"SELECT count(*) FROM {t}{where}").fetchone()[0]
            for t in ("calls", "utterances", "findings", "call_metrics")}
