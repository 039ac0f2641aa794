"""Synthetic processed calls shaped like a collection centre's (for bench/scale.py).

Each call: 20–40 utterances of Mandarin collection phrases with one word per one or two
characters, a few findings (some below the review threshold), metrics for collector, customer
and the whole call, and manifest metadata (collector, team, campaign, account, start time in
Asia/Shanghai, 50,000 calls a day). Call ``i`` is the same every time (seeded by ``i``).
"""
from __future__ import annotations

import random
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.domain import Call, Finding, ProcessedCall, RoleMetrics, Utterance, Word

PHRASES = (
    "您好,我是工商银行信用卡中心的客服专员,请问是刘伟先生吗", "您的账户已经逾期三十天了,请尽快还款",
    "我这个月工资还没发,能不能宽限几天", "我们可以帮您申请分期,但需要您先还最低还款额",
    "你们天天打电话,烦不烦啊", "请您注意说话的态度,我们是按规定联系您",
    "好的,我明天下午之前一定还上", "如果继续逾期,会影响您的个人征信记录",
    "我现在在开会,晚点再说吧", "请问您方便告诉我一个可以联系的时间吗",
    "这笔钱我已经还过了,你们查一下", "我帮您核实一下还款记录,请稍等",
    "你再打过来我就投诉你们", "感谢您的配合,祝您生活愉快,再见",
    "最低还款额是一千二百元,请在周五前存入", "家里最近出了点事,实在拿不出钱",
)
KINDS = (("abuse", "customer", "medium"), ("threat", "customer", "high"), ("privacy", "collector", "high"),
         ("pii", "customer", "info"), ("missing_steps", "collector", "low"), ("abuse", "collector", "critical"))
CALLS_PER_DAY = 50_000
EPOCH = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)  # a Monday, 08:00 in Shanghai


def call_id(i: int) -> str:
    """``YYYY/MM/DD/cNNNNNNNN`` like a date-partitioned archive (sorts in landing order)."""
    day = EPOCH + timedelta(days=i // CALLS_PER_DAY)
    return f"{day:%Y/%m/%d}/c{i:08d}"


def fake_sha(i: int) -> str:
    return f"{i:064x}"


def make_call(i: int, *, path: str | None = None, sha256: str | None = None, size: int | None = None,
              version: int = 0) -> ProcessedCall:
    """Processed call number ``i`` (``version`` > 0: the same call with changed content)."""
    rng = random.Random(i * 7919 + version)
    cid = call_id(i)
    day_start = EPOCH + timedelta(days=i // CALLS_PER_DAY)
    started = day_start + timedelta(seconds=(i % CALLS_PER_DAY) * 13 * 3600 / CALLS_PER_DAY
                                    + rng.uniform(-300, 300))
    n_utts = rng.randint(20, 40)
    utts, t = [], 0.5
    for j in range(n_utts):
        text = rng.choice(PHRASES)
        dur = max(1.0, len(text) * 0.22 + rng.uniform(-0.5, 0.8))
        step = dur / max(1, (len(text) + 1) // 2)
        words = [Word(t + k * step, t + (k + 1) * step, text[2 * k:2 * k + 2], round(rng.uniform(0.6, 1.0), 3))
                 for k in range((len(text) + 1) // 2)]
        role = ("collector", "customer")[j % 2]
        labels = ["abuse"] if rng.random() < 0.03 else []
        utts.append(Utterance(speaker=f"ch{j % 2}", role=role, start=t, end=t + dur, text=text, words=words,
                              channel=j % 2, labels=labels,
                              sentiment=rng.choice(("neutral", "neutral", "negative", "positive"))))
        t += dur + rng.uniform(0.1, 1.5)
    duration = t + 1.0
    findings = []
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        kind, role, severity = rng.choice(KINDS)
        u = rng.randrange(n_utts)
        findings.append(Finding(kind, role, utts[u].start, utts[u].end, "[已脱敏]" + utts[u].text[:8],
                                f"{kind}.rule{rng.randint(1, 9)}", round(rng.uniform(0.5, 1.0), 3), severity, u))
    talk = {r: sum(u.end - u.start for u in utts if u.role == r) for r in ("collector", "customer")}
    metrics = [RoleMetrics(r, n_utts // 2, talk[r], talk[r] / duration, int(talk[r] * 4.5), 270.0,
                           rng.randint(0, 3), rng.uniform(0, 3), None, rng.uniform(-28, -16))
               for r in ("collector", "customer")]
    metrics.append(RoleMetrics("all", n_utts, sum(talk.values()), sum(talk.values()) / duration,
                               sum(m.n_chars for m in metrics), 270.0, sum(m.interruptions for m in metrics),
                               rng.uniform(0, 5), max(0.0, duration - sum(talk.values())), rng.uniform(-26, -18)))
    call = Call(call_id=cid, path=path or f"/archive/{cid}.wav", sha256=sha256 or fake_sha(i * 1000 + version),
                size_bytes=size or int(duration * 32000), collector_id=f"C{rng.randrange(200):03d}",
                account_id=f"A{rng.randrange(max(1, i // 4 + 50)):07d}", started_at=started, timezone="Asia/Shanghai",
                direction="inbound" if rng.random() < 0.1 else "outbound",
                campaign=rng.choice(("M1", "M2", "M3", "write-off")), team=f"T{rng.randrange(12):02d}",
                channel_roles=("collector", "customer"))
    return ProcessedCall(call=call, duration=duration, channels=2, source_rate=8000, codec="pcm_s16le",
                         utterances=utts, findings=findings, metrics=metrics, diarization="channel",
                         asr_model="whisper-base", roles_confidence=0.95)


def tiny_wav(i: int, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A valid stereo 16-bit WAV whose samples depend on ``i`` (distinct content hashes)."""
    rng = random.Random(i)
    n = int(seconds * rate)
    data = struct.pack(f"<{2 * n}h", *(rng.randint(-3000, 3000) for _ in range(2 * n)))
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16) + b"data" + struct.pack("<I", len(data)))
    return header + data


def write_archive(root: Path, n: int) -> list[Path]:
    """``n`` tiny WAVs under ``root`` named like the first ``n`` synthetic call ids."""
    paths = []
    for i in range(n):
        path = root / f"{call_id(i)}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(tiny_wav(i))
            tmp.replace(path)
        paths.append(path)
    return paths
