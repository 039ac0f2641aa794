"""A night at a collection centre's scale: what each operation costs as the warehouse grows.

usage: .venv/bin/python bench/scale.py [--sizes 10000,100000] [--workdir DIR] [--archive-files 10000]
                                       [--ops land,plan,discover,macros,sample,report,export,purge]

Builds one warehouse with callqa's own landing code (warehouse.store.Warehouse.land on
synthetic processed calls from bench/synth.py: 20–40 utterances with words, a few findings,
metrics for three roles, 50,000 calls a day), growing it to each size in turn, and at each size
times landing (16-call batches of new, changed and failed calls), planning a night over the
archive, discovery (first and second night over an archive of tiny WAVs whose calls are the
first ones landed), the reporting macros, a review sample, a 7-day report (capped at
[report] max_call_pages call pages), an export (first and again) and the purge of one account.
Each row shows wall seconds, CPU seconds of this process (all its threads: less sensitive to
other load on the machine than wall time), bytes read and written by this process
(/proc/self/io: rchar, wchar; the "disk" figures are what reached the block device), files
written and the growth from the previous size. The calls are built by worker processes (``--procs``) and landed by this
one process, the single writer, as in the nightly flow.

Everything is written under ``--workdir`` (default: a new temporary folder, removed at the
end unless ``--keep``); a workdir that holds an earlier build is grown further, not rebuilt.
Results are also written to WORKDIR/results.json after each size.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import pyarrow as pa  # noqa: E402

import synth  # noqa: E402
from core.domain import Call, Failure  # noqa: E402
from core.settings import load_settings  # noqa: E402
from warehouse.staging import StagedCall, stage_call  # noqa: E402
from warehouse.store import Warehouse  # noqa: E402

BATCH = 16            # calls per landing batch in the nightly flow (flow.batch_size)
TABLES = ("calls", "utterances", "utterances_raw", "findings", "call_metrics")
OPS = ("land", "plan", "discover", "macros", "sample", "report", "export", "purge")


# -- measuring ---------------------------------------------------------------------------
def io_counters() -> dict[str, int]:
    """This process's I/O so far: rchar/wchar (every read/write call) and read_bytes/write_bytes
    (what reached the disk); zeros where /proc is missing."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in text.splitlines())}


def files_written(folder: Path, since: float) -> int:
    """Files under ``folder`` modified at or after ``since`` (new or rewritten)."""
    n = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                n += os.stat(os.path.join(root, name)).st_mtime >= since
            except OSError:
                pass
    return n


@dataclass
class Row:
    op: str
    size: int
    seconds: float
    cpu: float = float("nan")         # CPU seconds of this process (every thread)
    per: str = ""                     # e.g. "ms/batch 41.2, ms/call 2.6"
    read: int = 0
    written: int = 0
    disk_read: int = 0
    disk_written: int = 0
    files: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder:
    def __init__(self, path: Path, meta: dict[str, Any]):
        self.rows: list[Row] = []
        self.path = path
        self.meta = meta
        self.meta_sizes: dict[int, dict[str, int]] = {}

    def measure(self, op: str, size: int, fn: Callable[[], Any], out: Path | None = None) -> tuple[Row, Any]:
        wall0 = time.time() - 1.0   # mtime granularity
        io0, t0, c0 = io_counters(), time.perf_counter(), time.process_time()
        value = fn()
        seconds, cpu, io1 = time.perf_counter() - t0, time.process_time() - c0, io_counters()
        row = Row(op, size, seconds, cpu, read=io1.get("rchar", 0) - io0.get("rchar", 0),
                  written=io1.get("wchar", 0) - io0.get("wchar", 0),
                  disk_read=io1.get("read_bytes", 0) - io0.get("read_bytes", 0),
                  disk_written=io1.get("write_bytes", 0) - io0.get("write_bytes", 0),
                  files=files_written(out, wall0) if out else 0)
        self.rows.append(row)
        log(f"  {op:<34} {seconds:8.3f} s ({cpu:.3f} s CPU)  read {mb(row.read)} written {mb(row.written)}")
        self.save()   # a crash later in the run keeps the rows measured so far
        return row, value

    def skip(self, op: str, size: int, note: str) -> None:
        self.rows.append(Row(op, size, float("nan"), note=note))
        log(f"  {op:<34} skipped: {note}")

    def save(self) -> None:
        data = {"meta": {**self.meta, "per_size": self.meta_sizes, "load_now": os.getloadavg()},
                "rows": [r.__dict__ for r in self.rows]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, self.path)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.0f} kB"


# -- building ----------------------------------------------------------------------------
def archive_call(i: int, archive: Path | None, n_archive: int) -> dict[str, Any]:
    """Path, hash and size of call ``i`` when it is one of the archive's tiny WAVs."""
    if archive is None or i >= n_archive:
        return {}
    data = synth.tiny_wav(i)
    return {"path": str(archive / f"{synth.call_id(i)}.wav"), "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data)}


def build_chunk(args: tuple[int, int, str | None, int, int]) -> bytes:
    """Worker: calls [start, stop) (version ``version``) staged to Arrow, as one IPC stream of
    each table plus the rows per call (pickling per-call tables would cost more than building)."""
    start, stop, archive, n_archive, version = args
    root = Path(archive) if archive else None
    staged = [stage_call(synth.make_call(i, version=version, **archive_call(i, root, n_archive)))
              for i in range(start, stop)]
    return pack(staged)


def pack(staged: list[StagedCall]) -> bytes:
    sink = pa.BufferOutputStream()
    meta = {"ids": [s.call_id for s in staged], "durations": [s.duration for s in staged],
            "rows": {t: [s.tables[t].num_rows for s in staged] for t in TABLES}}
    header = json.dumps(meta).encode()
    sink.write(len(header).to_bytes(8, "little"))
    sink.write(header)
    for t in TABLES:
        table = pa.concat_tables([s.tables[t] for s in staged])
        buf = pa.BufferOutputStream()
        with pa.ipc.new_stream(buf, table.schema) as writer:
            writer.write_table(table)
        body = buf.getvalue()
        sink.write(len(body).to_bytes(8, "little"))
        sink.write(body)
    return sink.getvalue().to_pybytes()


def unpack(data: bytes) -> list[StagedCall]:
    """Per-call StagedCalls (zero-copy slices of the chunk's tables), as a worker hands them over."""
    pos = 8 + int.from_bytes(data[:8], "little")
    meta = json.loads(data[8:pos])
    tables = {}
    for t in TABLES:
        n = int.from_bytes(data[pos:pos + 8], "little")
        tables[t] = pa.ipc.open_stream(pa.py_buffer(data[pos + 8:pos + 8 + n])).read_all()
        pos += 8 + n
    offsets = {t: 0 for t in TABLES}
    staged = []
    for k, (cid, dur) in enumerate(zip(meta["ids"], meta["durations"])):
        parts = {}
        for t in TABLES:
            n = meta["rows"][t][k]
            parts[t] = tables[t].slice(offsets[t], n)
            offsets[t] += n
        staged.append(StagedCall(cid, dur, parts))
    return staged


class Builder:
    """Grows the warehouse: worker processes build the calls, this process lands them."""

    def __init__(self, workdir: Path, procs: int, archive: Path, n_archive: int, chunk: int):
        self.db = workdir / "warehouse.duckdb"
        self.state_path = workdir / "state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {"built": 0}
        self.procs, self.archive, self.n_archive, self.chunk = procs, archive, n_archive, chunk
        self.pool = mp.get_context("fork").Pool(procs) if procs > 1 else None
        self.build_log: list[tuple[int, float, int]] = []   # (calls in db, seconds landing, calls)

    @property
    def built(self) -> int:
        return self.state["built"]

    def staged(self, start: int, stop: int, version: int = 0) -> list[StagedCall]:
        jobs = [(a, min(a + self.chunk, stop), str(self.archive), self.n_archive, version)
                for a in range(start, stop, self.chunk)]
        mapper = self.pool.imap if self.pool else map
        return [s for data in mapper(build_chunk, jobs) for s in unpack(data)]

    def grow(self, wh: Warehouse, run_id: str, stop: int, batch: int) -> float:
        """Land calls [built, stop) in batches of ``batch``; returns the seconds spent landing."""
        start = self.built
        if stop <= start:
            return 0.0
        jobs = [(a, min(a + self.chunk, stop), str(self.archive), self.n_archive, 0)
                for a in range(start, stop, self.chunk)]
        mapper = self.pool.imap if self.pool else map
        landing, t_all = 0.0, time.perf_counter()
        for data in mapper(build_chunk, jobs):
            staged = unpack(data)
            for k in range(0, len(staged), batch):
                t = time.perf_counter()
                wh.land(staged[k:k + batch], [], run_id)
                landing += time.perf_counter() - t
                self.build_log.append((self.state["built"], time.perf_counter() - t, len(staged[k:k + batch])))
                self.state["built"] += len(staged[k:k + batch])
            if (self.state["built"] // self.chunk) % 20 == 0:
                log(f"  built {self.built:,} calls ({time.perf_counter() - t_all:.0f} s)")
        self.state_path.write_text(json.dumps(self.state))
        return landing

    def close(self) -> None:
        if self.pool:
            self.pool.close()
            self.pool.join()


# -- the operations ----------------------------------------------------------------------
def land_batches(rec: Recorder, wh: Warehouse, run_id: str, op: str, size: int,
                 batches: list[tuple[list[StagedCall], list[Failure]]], calls: dict[str, Call] | None = None) -> None:
    """Land ``batches`` one by one; one row with the median and the first/last batch."""
    times: list[float] = []

    def run() -> None:
        for staged, failures in batches:
            t = time.perf_counter()
            wh.land(staged, failures, run_id, calls=calls)
            times.append(time.perf_counter() - t)

    row, _ = rec.measure(op, size, run)
    n = sum(len(s) + len(f) for s, f in batches)
    med = statistics.median(times)
    row.per = f"{1000 * med:.1f} ms/batch, {1000 * row.seconds / n:.2f} ms/call"
    row.extra = {"batches": len(batches), "calls": n, "ms_per_batch_median": 1000 * med,
                 "ms_per_batch_first": 1000 * times[0], "ms_per_batch_last": 1000 * times[-1],
                 "ms_per_call": 1000 * row.seconds / n}


def discover_archive(archive: Path, settings: Any, wh_path: Path) -> Any:
    """Discovery as the nightly flow runs it against the warehouse (files unchanged since they
    landed are not read again): a flows.discovery.Discovery."""
    from flows.discovery import discover_archive as discover
    from flows.intake import stored_in

    return discover(archive, settings.archive, default_tz=settings.compliance.default_timezone,
                    stored=stored_in(wh_path))


def remember_files(wh_path: Path, calls: list[Call]) -> None:
    """What a night does for files it read that hold their landed bytes: store their size and
    modification time (when the warehouse keeps them), so that the next night skips them."""
    with Warehouse(wh_path) as wh:
        landed = wh.call_statuses([c.call_id for c in calls])
        rows = []
        for c in calls:
            if landed.get(c.call_id, ("", ""))[0] == c.sha256:
                info = os.stat(c.path)
                rows.append((c.call_id, info.st_size, info.st_mtime_ns))
        wh.record_fingerprints(rows)


def report_window(settings: Any, db: Path, out: Path, last_day: date) -> Any:
    """callqa report over the [report] days ending on ``last_day``, with the configured cap."""
    from callqa.report.build import build_report
    from warehouse.reporting import Window

    window = Window.last_days(settings.report.days, settings.compliance.default_timezone, today=last_day)
    return build_report(db, out, settings, window=window)


def measure_size(rec: Recorder, b: Builder, size: int, args: argparse.Namespace, settings: Any) -> None:
    ops = set(args.ops)
    n_probe = args.probes * BATCH
    log(f"== {size:,} calls")
    with Warehouse(b.db) as wh:
        run_id = wh.start_run("bench", {})
        t = time.perf_counter()
        b.build_log.clear()
        b.grow(wh, run_id, max(b.built, size - n_probe), args.build_batch)
        log(f"  grown to {b.built:,} calls in {time.perf_counter() - t:.0f} s")
        if "land" in ops and len(b.build_log) >= 2:
            last = b.build_log[-10:]   # the last bulk batches before this size
            secs, n = sum(x[1] for x in last), sum(x[2] for x in last)
            rec.rows.append(Row(f"land {args.build_batch}-call batches (building)", size, secs,
                                per=f"{1000 * secs / len(last):.0f} ms/batch, {1000 * secs / n:.2f} ms/call",
                                note=f"last {len(last)} batches before {size:,}",
                                extra={"ms_per_call": 1000 * secs / n}))
        if "land" in ops and b.built < size:
            start = b.built
            staged = b.staged(start, size)
            land_batches(rec, wh, run_id, "land 16 new calls", size,
                         [(staged[k:k + BATCH], []) for k in range(0, len(staged), BATCH)])
            b.state["built"] = size
            b.state_path.write_text(json.dumps(b.state))
        elif b.built < size:
            b.grow(wh, run_id, size, args.build_batch)
        total = b.built
        if "land" in ops:
            # changed recordings of calls landed any time before (spread over the warehouse), then
            # their first version again: each batch replaces 16 calls' rows
            picks = list(dict.fromkeys((k * 7919) % total for k in range(n_probe)))  # spread, not sorted
            changed = [s for i in picks for s in b.staged(i, i + 1, version=1)]
            land_batches(rec, wh, run_id, "re-land 16 changed calls", size,
                         [(changed[k:k + BATCH], []) for k in range(0, len(changed), BATCH)])
            original = [s for i in picks for s in b.staged(i, i + 1)]
            land_batches(rec, wh, run_id, "re-land 16 changed calls (back)", size,
                         [(original[k:k + BATCH], []) for k in range(0, len(original), BATCH)])
            fails = [Failure(f"failed/{size}/{k:05d}", f"/archive/failed/{size}/{k}.wav", f"{k:064x}", "decode",
                             "decode_error", "not audio") for k in range(n_probe)]
            meta = {f.call_id: Call(f.call_id, f.path, f.sha256, 300, collector_id="C001", account_id="A0000001")
                    for f in fails}
            land_batches(rec, wh, run_id, "land 16 failed calls", size,
                         [([], fails[k:k + BATCH]) for k in range(0, len(fails), BATCH)], calls=meta)
        last_day = wh.con.execute("SELECT max(timezone(?, started_at))::DATE FROM calls",
                                  [settings.compliance.default_timezone]).fetchone()[0]
        account = wh.con.execute(
            "SELECT account_id FROM calls WHERE account_id IS NOT NULL GROUP BY 1 HAVING count(*) BETWEEN 2 AND 6"
            " ORDER BY 1 DESC LIMIT 1").fetchone()
        db_bytes = b.db.stat().st_size
        counts = {t: wh.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("calls", "utterances")}

    archive_calls: list[Call] = []
    if "discover" in ops or "plan" in ops:
        for night in ("first", "second") if "discover" in ops else ():
            row, found = rec.measure(f"discover, {night} night ({args.archive_files:,} files)", size,
                                     lambda: discover_archive(b.archive, settings, b.db))
            archive_calls = found.calls
            row.note = (f"{len(found.calls):,} calls, {len(found.failures)} failures,"
                        f" {found.hashed_files:,} files / {found.hashed_bytes / 1e6:,.1f} MB hashed")
            if night == "first":
                remember_files(b.db, archive_calls)
        if not archive_calls:
            archive_calls = discover_archive(b.archive, settings, b.db).calls
    if "plan" in ops:
        from flows.nightly import plan

        with Warehouse(b.db) as wh:
            row, (todo, skipped) = rec.measure(f"plan a night ({len(archive_calls):,} discovered)", size,
                                               lambda: plan(archive_calls, wh, False))
        row.extra = {"todo": len(todo), "skipped": skipped}
        row.note = f"{len(todo)} to process, {skipped} already landed"

    if "macros" in ops:
        from warehouse.reporting import Reports

        with Reports(b.db, settings.compliance) as rep:
            for name, fn in (("collector_stats (week)", lambda: rep.collector_stats("week")),
                             ("abuse_trend", rep.abuse_trend), ("compliance_breaches", rep.compliance_breaches)):
                row, rows = rec.measure(f"macro {name}", size, fn)
                row.note = f"{len(rows):,} rows"
    if "sample" in ops:
        from warehouse.review import sample

        row, picked = rec.measure("review sample (n=200)", size, lambda: sample(b.db, 200))
        row.note = f"{len(picked)} rows"
    if "report" in ops:
        out = b.db.parent / f"report-{size}"
        row, result = rec.measure(f"report, last {settings.report.days} days", size,
                                  lambda: report_window(settings, b.db, out, last_day), out=out)
        row.note = (f"{result.calls:,} calls in the window, {result.pages:,} call pages,"
                    f" {result.without_page:,} more over the cap, {result.files:,} files")
        row.extra = {"calls": result.calls, "pages": result.pages, "without_page": result.without_page}
        shutil.rmtree(out, ignore_errors=True)
    export_out = b.db.parent / f"export-{size}"
    if "export" in ops:
        if args.max_export_calls and total > args.max_export_calls:
            rec.skip("export (first)", size, f"above --max-export-calls {args.max_export_calls:,}")
        else:
            from warehouse.export import export

            for which in ("first", "again, nothing new"):
                row, counts_out = rec.measure(f"export ({which})", size, lambda: export(b.db, export_out),
                                              out=export_out)
                row.note = (f"{counts_out['mode']}: {int(counts_out['calls_written']):,} calls,"
                            f" {int(counts_out['files_written']):,} files written")
    if "purge" in ops and account:
        from warehouse.purge import purge, select_calls

        with Warehouse(b.db) as wh:
            ids = select_calls(wh, account_id=account[0])
            row, result = rec.measure("purge one account", size, lambda: purge(wh, ids, f"account_id={account[0]}"))
        row.note = (f"{len(ids)} calls, {result.rows_deleted} rows, {result.files_removed} files removed,"
                    f" {result.files_rewritten} rewritten")
    shutil.rmtree(export_out, ignore_errors=True)
    log(f"  database {db_bytes / 1e9:.2f} GB, {counts['calls']:,} calls, {counts['utterances']:,} utterances")
    rec.meta_sizes[size] = {"db_bytes": db_bytes, **counts}


# -- the table ---------------------------------------------------------------------------
def growth(rows: list[Row], row: Row) -> str:
    prev = [r for r in rows if r.op == row.op and r.size < row.size and r.seconds == r.seconds]
    if not prev or row.seconds != row.seconds:
        return ""
    p = max(prev, key=lambda r: r.size)
    key = "ms_per_call" if "ms_per_call" in row.extra and "ms_per_call" in p.extra else None
    a, b = (row.extra[key], p.extra[key]) if key else (row.seconds, p.seconds)
    return f"×{a / b:.2f} for ×{row.size / max(1, p.size):.3g} calls" if b > 0 else ""


def table(rows: list[Row]) -> str:
    out = ["| operation | calls | seconds | CPU s | per batch / call | read | written | disk r/w | files | growth | note |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {op: k for k, op in enumerate(dict.fromkeys(r.op for r in rows))}
    for r in sorted(rows, key=lambda r: (order[r.op], r.size)):
        secs = "—" if r.seconds != r.seconds else f"{r.seconds:.3f}"
        cpu = "—" if r.cpu != r.cpu else f"{r.cpu:.3f}"
        out.append(f"| {r.op} | {r.size:,} | {secs} | {cpu} | {r.per} | {mb(r.read)} | {mb(r.written)} |"
                   f" {mb(r.disk_read)} / {mb(r.disk_written)} | {r.files:,} | {growth(rows, r)} | {r.note} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="warehouse sizes in calls, ascending")
    ap.add_argument("--workdir", help="where the warehouse, archive and outputs go (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    ap.add_argument("--archive-files", type=int, default=10_000, help="tiny WAVs in the synthetic archive")
    ap.add_argument("--ops", default=",".join(OPS), help=f"operations to time, among {','.join(OPS)}")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="processes building calls")
    ap.add_argument("--probes", type=int, default=10, help="16-call batches timed per landing row")
    ap.add_argument("--build-batch", type=int, default=500, help="calls per landing batch while building")
    ap.add_argument("--chunk", type=int, default=500, help="calls per worker job")
    ap.add_argument("--max-export-calls", type=int, default=0, help="skip the export above this many calls (0: never)")
    ap.add_argument("--table", nargs="+", metavar="RESULTS_JSON", help="only print one table of the rows of these"
                    " results.json files (e.g. a 10k/100k run and a 1M run grown in another workdir)")
    args = ap.parse_args()
    if args.table:
        rows = [Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__})
                for path in args.table for r in json.loads(Path(path).read_text())["rows"]]
        print(table(rows))
        return
    try:
        sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    except ValueError:
        ap.error("--sizes: comma-separated numbers of calls, e.g. 10000,100000")
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if set(args.ops) - set(OPS) or any(s < args.probes * BATCH * 2 for s in sizes):
        ap.error(f"--ops among {','.join(OPS)}; sizes of at least {args.probes * BATCH * 2} calls")
    own_tmp = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="callqa-scale-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if REPO in (workdir, *workdir.parents):
        ap.error("--workdir must lie outside the repository")
    settings = load_settings(environ={})
    archive = workdir / "archive"
    t = time.perf_counter()
    synth.write_archive(archive, args.archive_files)
    log(f"archive: {args.archive_files:,} tiny WAVs in {time.perf_counter() - t:.1f} s under {archive}")
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "date": date.today().isoformat(), "workdir": str(workdir), "sizes": sizes,
            "load_at_start": os.getloadavg()}
    rec = Recorder(workdir / "results.json", meta)
    b = Builder(workdir, args.procs, archive, args.archive_files, args.chunk)
    try:
        if "land" in args.ops and b.built == 0:
            log("== first batches into an empty warehouse")
            staged = b.staged(0, args.probes * BATCH)
            with Warehouse(b.db) as wh:
                run_id = wh.start_run("bench", {})
                land_batches(rec, wh, run_id, "land 16 new calls", len(staged),
                             [(staged[k:k + BATCH], []) for k in range(0, len(staged), BATCH)])
            b.state["built"] = len(staged)
            b.state_path.write_text(json.dumps(b.state))
        for size in sizes:
            t = time.perf_counter()
            measure_size(rec, b, size, args, settings)
            log(f"  size {size:,} done in {time.perf_counter() - t:.0f} s")
            rec.save()
    finally:
        b.close()
    print(f"machine: {meta['machine']}; {meta['date']}; load average at start {meta['load_at_start'][0]:.2f},"
          f" at end {os.getloadavg()[0]:.2f}")
    for size, m in rec.meta_sizes.items():
        print(f"warehouse at {size:,} calls: {m['db_bytes'] / 1e9:.2f} GB, {m['utterances']:,} utterances")
    print(table(rec.rows))
    if own_tmp and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"results: {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
