"""Search speed on a warehouse of 1M utterances (`callqa search`), and re-scoring it.

usage: .venv/bin/python bench/search.py [--calls 40000] [--utterances 25] [--db PATH] [--rescore]

Builds the warehouse through warehouse.store.Warehouse.land from synthetic ProcessedCalls
(collection-call sentences with random amounts, 50 collectors, 60 days, findings on some
utterances; a rare phrase 律师函 in about 1 in 400 utterances), then times searches with
warehouse.search.search (median of 5 runs, after one warm-up run). --db keeps the file
(built once, reused when it exists). --rescore also times `callqa score` over every call
(flows.scoring.rescore with the default scorecard, every call re-scored).
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import Call, Finding, ProcessedCall, RoleMetrics, Utterance  # noqa: E402
from warehouse.search import SearchQuery, search  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

COLLECTOR = ["您好,我是{bank}信用卡中心的客服专员,请问是{name}先生吗?", "麻烦您报一下身份证的后四位。",
             "您的信用卡已经逾期{days}天,欠款{amount}元。", "您可以先还最低还款额,也可以办理分期。",
             "请问您今天能先还一部分吗?", "好的,我帮您登记一下,感谢您的配合。", "如果一直不还,会影响您的征信。",
             "我们会按规定把情况报告给银行。"]
CUSTOMER = ["对,我是。", "最近手头比较紧,月底发了工资就还。", "你们怎么又打来了?", "我知道了,我尽快处理。",
            "这笔钱我下周一去柜台还。", "我现在没有钱,能不能宽限几天?", "好的,谢谢,再见。"]
RARE = ["再不还款我们就给您寄律师函了。", "律师函已经在路上了。"]
BANKS = ["工商银行", "中信银行", "交通银行", "招商银行"]
NAMES = ["刘", "王", "张", "李", "陈"]
START = datetime(2026, 9, 1, 1, 0, tzinfo=timezone.utc)


def make_call(i: int, n_utts: int, rng: random.Random) -> ProcessedCall:
    call = Call(call_id=f"c{i:07d}", path=f"/archive/c{i}.wav", sha256=f"{i:064x}", size_bytes=1,
                collector_id=f"C{i % 50:03d}", account_id=f"A{i % 9000}", timezone="Asia/Shanghai",
                started_at=START + timedelta(days=i % 60, minutes=(i * 7) % 600), direction="outbound",
                channel_roles=("collector", "customer"))
    utts, findings = [], []
    for j in range(n_utts):
        role = ("collector", "customer")[j % 2]
        if rng.random() < 0.0025:
            text = rng.choice(RARE)
        else:
            text = rng.choice(COLLECTOR if role == "collector" else CUSTOMER).format(
                bank=rng.choice(BANKS), name=rng.choice(NAMES), days=rng.randint(1, 90),
                amount=rng.randint(500, 50000))
        t = j * 4.0
        utts.append(Utterance(speaker=f"ch{j % 2}", role=role, start=t, end=t + 3.5, text=text, channel=j % 2,
                              sentiment="neutral"))
        if "律师函" in text and rng.random() < 0.5:
            findings.append(Finding("threat", role, t, t + 3.5, text, "bench.threat", 0.9, "high", j))
        elif rng.random() < 0.01:
            findings.append(Finding("abuse", role, t, t + 3.5, text, "bench.abuse", 0.9, "medium", j))
    duration = n_utts * 4.0
    metrics = [RoleMetrics(r, n_utts // 2, duration * 0.4, 0.4, 300, 260.0, 0, 0.0, None, None)
               for r in ("collector", "customer")] + [RoleMetrics("all", n_utts, duration * 0.8, 0.8, 600, 260.0,
                                                                 0, 0.0, duration * 0.2, None)]
    return ProcessedCall(call=call, duration=duration, channels=2, source_rate=8000, codec="pcm_s16le",
                         utterances=utts, findings=findings, metrics=metrics, diarization="channel",
                         asr_model="bench")


def build(db: Path, calls: int, n_utts: int, batch: int = 500) -> float:
    rng = random.Random(14)
    t0 = time.perf_counter()
    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        for k in range(0, calls, batch):
            wh.land([make_call(i, n_utts, rng) for i in range(k, min(calls, k + batch))], [], run)
        wh.finish_run(run, discovered=calls, skipped=0, landed=calls, failed=0, audio_seconds=0.0)
    return time.perf_counter() - t0


def timed(con, q: SearchQuery, runs: int = 5) -> tuple[float, int]:
    search(con, q, "Asia/Shanghai")  # warm-up
    times, total = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        total = search(con, q, "Asia/Shanghai").total
        times.append(time.perf_counter() - t0)
    return statistics.median(times), total


QUERIES = [
    ("substring, rare (律师函)", SearchQuery("律师函")),
    ("substring, common (逾期)", SearchQuery("逾期")),
    ("regex 欠款[0-9]{5}元", SearchQuery("欠款[0-9]{5}元", regex=True)),
    ("律师函 --role collector --kind threat", SearchQuery("律师函", role="collector", kind="threat")),
    ("逾期 --collector C009 --since/--until (7 days)",
     SearchQuery("逾期", collector="C009", since=date(2026, 9, 10), until=date(2026, 9, 16))),
    ("律师函 --since/--until (7 days)", SearchQuery("律师函", since=date(2026, 9, 10), until=date(2026, 9, 16))),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40_000)
    ap.add_argument("--utterances", type=int, default=25)
    ap.add_argument("--db", type=Path, default=None, help="keep the warehouse here (reused when it exists)")
    ap.add_argument("--rescore", action="store_true", help="also time re-scoring every call")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "search.duckdb"
        build_s = None if db.exists() else build(db, args.calls, args.utterances)
        with Warehouse(db, read_only=True) as wh:
            n_utts = wh.con.execute("SELECT count(*) FROM utterances").fetchone()[0]
            n_calls = wh.con.execute("SELECT count(*) FROM calls").fetchone()[0]
            print(f"machine: {platform.machine()}, {os.cpu_count()} cores; duckdb {db.stat().st_size / 2**20:,.0f} MiB,"
                  f" {n_calls:,} calls, {n_utts:,} utterances"
                  + (f", built in {build_s:.1f} s" if build_s is not None else " (reused)"))
            print(f"{'search':48s} {'median s':>9s} {'matches':>9s}")
            for label, q in QUERIES:
                seconds, total = timed(wh.con, q)
                print(f"{label:48s} {seconds:9.3f} {total:9,d}")
        if args.rescore:
            from analysis.scorecards import load_scorecards
            from core.settings import ScoringSettings
            from flows.scoring import rescore

            t0 = time.perf_counter()
            done = rescore(db, load_scorecards(ScoringSettings()), every=True)
            seconds = time.perf_counter() - t0
            print(f"callqa score --all: {done[0].scored:,} calls in {seconds:.1f} s ({done[0].scored / seconds:,.0f} calls/s)")


if __name__ == "__main__":
    main()
