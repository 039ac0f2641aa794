"""What `callqa export` costs as the warehouse grows: a first (full) export, a second with nothing
new, a nightly increment of new calls, and calls landed again.

usage: .venv/bin/python bench/export_scale.py [--sizes 10000,100000] [--increment 500] [--relanded 50]
                                              [--utterances 30] [--per-day 50000] [--transcripts]
                                              [--workdir DIR]

Builds a warehouse with callqa's own landing code (warehouse.store.Warehouse.land on processed
calls shaped like tests/helpers/warehouse_data.py's, with ``--utterances`` utterances of
collection phrases and a word per two characters, one finding, metrics for three roles,
``--per-day`` calls a day), growing it to each size in turn (a ``--workdir`` that holds an
earlier build is grown further). At each size it exports into a new folder, exports again with
nothing new, lands ``--increment`` calls on the next day and exports, then lands ``--relanded``
calls of the first day again (changed recordings: that day's partitions are rewritten) and
exports. Each export runs in a fresh process, so that its peak resident memory is its own;
``--transcripts`` also writes RTTM/VTT on the first export.

``measure_export(db, out)`` is the function other benchmarks (bench/scale.py) import.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PHRASES = ("您好,我是工商银行信用卡中心的客服专员,请问是刘伟先生吗", "您的账户已经逾期三十天了,请尽快还款",
           "我这个月工资还没发,能不能宽限几天", "我们可以帮您申请分期,但需要您先还最低还款额",
           "好的,我明天下午之前一定还上", "如果继续逾期,会影响您的个人征信记录")
EPOCH = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)  # 08:00 in Shanghai


def _files(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    n = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            n += 1
            size += os.path.getsize(os.path.join(root, name))
    return n, size


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM, the high-water mark of its own address
    space (getrusage's ru_maxrss is the same figure but, on Linux, a child started by fork and
    exec inherits its parent's peak in it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(db: str, out: str, full: bool, transcripts: bool) -> None:
    """In the fresh process: export, print the counts and figures as JSON."""
    from warehouse.export import export

    before = peak_rss_mib()
    t0 = time.perf_counter()
    counts = export(db, out, full=full, transcripts=transcripts)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": before, **counts}))


def measure_export(db: str | Path, out: str | Path, *, full: bool = False, transcripts: bool = False) -> dict:
    """Run ``warehouse.export.export(db, out)`` in a fresh Python process and return its counts
    plus ``seconds``, ``peak_rss_mib`` (that process's peak resident memory), ``baseline_rss_mib``
    (its peak before exporting: the interpreter and imports), ``files_in_folder`` and
    ``folder_bytes`` (OUT afterwards)."""
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/bench']; import export_scale;"
            " export_scale._child(sys.argv[2], sys.argv[3], sys.argv[4] == '1', sys.argv[5] == '1')")
    done = subprocess.run([sys.executable, "-c", code, str(REPO), str(db), str(out), str(int(full)),
                           str(int(transcripts))], capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"export process exited with {done.returncode}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["files_in_folder"], result["folder_bytes"] = _files(Path(out))
    return result


# -- a synthetic warehouse -----------------------------------------------------------------
def make_call(i: int, n_utts: int, per_day: int, day: int | None = None, prefix: str = "c", salt: str = "") -> Any:
    """Processed call ``i`` (on day ``i // per_day`` after EPOCH unless ``day`` is given;
    ``salt``: the same call with another recording hash, as a changed recording)."""
    from core.domain import Call, Finding, ProcessedCall, RoleMetrics, Utterance, Word

    day = i // per_day if day is None else day
    started = EPOCH + timedelta(days=day, seconds=(i % per_day) * 12 * 3600 / per_day)
    utts, t = [], 0.5
    for j in range(n_utts):
        text = PHRASES[(i + j) % len(PHRASES)]
        step = 0.4
        words = [Word(t + k * step, t + (k + 1) * step, text[2 * k:2 * k + 2], 0.9) for k in range((len(text) + 1) // 2)]
        end = t + step * len(words)
        utts.append(Utterance(speaker=f"ch{j % 2}", role=("collector", "customer")[j % 2], start=t, end=end,
                              text=text, words=words, channel=j % 2, labels=["abuse"] if j == 3 else [],
                              sentiment="neutral"))
        t = end + 0.6
    findings = [Finding("abuse", "customer", utts[min(3, n_utts - 1)].start, utts[min(3, n_utts - 1)].end,
                        "[已脱敏]", "abuse.rule1", 0.9, "medium", min(3, n_utts - 1))]
    metrics = [RoleMetrics(r, n_utts // 2, t / 2, 0.45, 500, 270.0, 1, 0.5, None, -20.0) for r in ("collector", "customer")]
    metrics.append(RoleMetrics("all", n_utts, t, 0.9, 1000, 270.0, 2, 1.0, 10.0, -21.0))
    cid = f"{started:%Y/%m/%d}/{prefix}{i:08d}"
    call = Call(call_id=cid, path=f"/archive/{cid}.wav", sha256=hashlib.sha256((cid + salt).encode()).hexdigest(), size_bytes=int(t * 32000), collector_id=f"C{i % 200:03d}",
                account_id=f"A{i % 40000:06d}", timezone="Asia/Shanghai", started_at=started,
                channel_roles=("collector", "customer"))
    return ProcessedCall(call=call, duration=t + 1.0, channels=2, source_rate=8000, codec="pcm_s16le",
                         utterances=utts, findings=findings, metrics=metrics, diarization="channel",
                         asr_model="whisper-large-v3")


def grow(db: Path, start: int, stop: int, n_utts: int, per_day: int, batch: int = 1000, **kw: Any) -> None:
    """Land calls ``start`` .. ``stop - 1`` (batches of ``batch``, one transaction each)."""
    from warehouse.store import Warehouse

    with Warehouse(db) as wh:
        run = wh.start_run("/archive", {})
        for k in range(start, stop, batch):
            wh.land([make_call(i, n_utts, per_day, **kw) for i in range(k, min(k + batch, stop))], [], run)


def _row(label: str, size: int, r: dict) -> str:
    return (f"| {label} | {size:,} | {r['seconds']:.2f} | {r['files_written']:,} | {r['files_in_folder']:,} |"
            f" {r['peak_rss_mib']:,.0f} | {r['calls_written']:,} | {r['dates_replaced']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--increment", type=int, default=500)
    ap.add_argument("--relanded", type=int, default=50, help="then this many calls of the first day landed again")
    ap.add_argument("--utterances", type=int, default=30)
    ap.add_argument("--per-day", type=int, default=50_000)
    ap.add_argument("--transcripts", action="store_true", help="also write RTTM/VTT on the first export")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="callqa-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.utterances} utterances a call,"
          f" {args.per_day:,} calls a day; work folder {work}")
    print("| export | calls | seconds | files written | files in folder | peak RSS MiB | calls written | dates replaced |")
    print("|---|---|---|---|---|---|---|---|")
    landed = 0
    if db.is_file():  # a work folder of an earlier run: grow it further
        from warehouse.store import Warehouse

        with Warehouse(db, read_only=True) as wh:
            landed = wh.con.execute("SELECT count(*) FROM calls WHERE call_id NOT LIKE '%/n%'").fetchone()[0]
    try:
        for size in sizes:
            t0 = time.perf_counter()
            grow(db, landed, size, args.utterances, args.per_day)
            landed = size
            print(f"<!-- built {size:,} calls in {time.perf_counter() - t0:.0f} s,"
                  f" database {db.stat().st_size / 1e9:.2f} GB -->", flush=True)
            out = work / f"export-{size}"
            shutil.rmtree(out, ignore_errors=True)
            print(_row("first (full)" + (", with transcripts" if args.transcripts else ""), size,
                       measure_export(db, out, transcripts=args.transcripts)), flush=True)
            print(_row("again, nothing new", size, measure_export(db, out)), flush=True)
            # the night after: new calls on the day after the last one landed
            grow(db, 0, args.increment, args.utterances, args.per_day, day=(size - 1) // args.per_day + 1,
                 prefix=f"n{size}-")
            print(_row(f"nightly increment of {args.increment} calls", size, measure_export(db, out)), flush=True)
            grow(db, 0, args.relanded, args.utterances, args.per_day, salt=f"changed-{size}")
            print(_row(f"{args.relanded} calls of the first day landed again (changed)", size,
                       measure_export(db, out)), flush=True)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
