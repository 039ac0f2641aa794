"""The ``nightly`` flow: discover recordings, process them in parallel tasks, land in one writer.

The writer holds the database's run lock (``<db>.run.lock``) for the whole run, but has the
DuckDB file open only while it plans and while it lands a batch: readers (``callqa report``,
BI tools, ``duckdb -readonly``) get in between batches.
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import flows  # noqa: F401  (offline-safe Prefect settings before Prefect is imported)
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from analysis.rules import catalog as rules_catalog
from analysis.scorecards import load_scorecards
from core.domain import Call, Failure
from core.failpoints import failpoint
from core.settings import FlowSettings, Settings, load_settings
from flows.intake import discover_night, open_when_free, since_date, try_open
from flows.moves import apply_moves, landed_rows
from flows.progress import RunProgress
from flows.recording import process_recording
from speech.audio import AudioError
from warehouse.artifacts import register_artifact
from warehouse.purge import purged_keys, record_purged_skips
from warehouse.staging import StagedRef, find_staged, read_staged, remove_staged, stage_call, write_staged
from warehouse.store import Warehouse, run_lock

TRANSIENT = (OSError, MemoryError, TimeoutError)


def _retry_transient(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry only errors that may pass (I/O, memory); bad audio fails at once."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, TRANSIENT) and not isinstance(exc, AudioError)


@task(name="process-call", persist_result=False, cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5,
      retry_condition_fn=_retry_transient, log_prints=False)
def process_and_stage(call: Call, settings: Settings, staging: str) -> StagedRef:
    """Decode, transcribe, analyse and measure one call; stage its rows as Parquet under
    ``staging`` for the single writer. The task's result is only the reference."""
    return write_staged(stage_call(process_recording(call, settings)), call.sha256, staging)


def failure_from_exception(call: Call, exc: BaseException) -> Failure:
    """A Failure row for a task that raised: stage and reason from the exception type."""
    if isinstance(exc, AudioError):
        return Failure(call.call_id, call.path, call.sha256, "decode", exc.reason, str(exc))
    return Failure(call.call_id, call.path, call.sha256, "process", type(exc).__name__,
                   f"{type(exc).__name__}: {exc}"[:500], deterministic=not isinstance(exc, TRANSIENT))


def task_runner(flow_settings: FlowSettings) -> Any:
    """The configured task runner: threads in this process, or Dask (a local cluster of worker
    processes, or an existing cluster at ``flow.dask_address`` — workers on many machines)."""
    workers = flow_settings.workers
    if flow_settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if flow_settings.dask_address:
            return DaskTaskRunner(address=flow_settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    return ThreadPoolTaskRunner(max_workers=workers)


def staging_dir(settings: Settings) -> Path:
    """``flow.staging_dir``, or ``staging/`` beside the database (shared storage when the
    workers run on other machines)."""
    configured = settings.flow.staging_dir
    return Path(configured) if configured else Path(settings.warehouse.db).resolve().parent / "staging"


def plan(calls: list[Call], wh: Warehouse, retry_failed: bool) -> tuple[list[Call], int]:
    """Calls still to process: new, or whose bytes changed since they landed/failed. Only the
    discovered calls are looked up, never every call in the warehouse."""
    ids = [c.call_id for c in calls]
    known = wh.call_statuses(ids)
    failed = set() if retry_failed else wh.failed_versions(ids)
    todo = []
    for call in calls:
        sha, status = known.get(call.call_id, (None, None))
        if sha == call.sha256 and (status == "ok" or not retry_failed):
            continue
        if (call.call_id, call.sha256) in failed:
            continue
        todo.append(call)
    return todo, len(calls) - len(todo)


def skip_purged(calls: list[Call], failures: list[Failure], wh: Warehouse) -> tuple[list[Call], list[Failure], int]:
    """What may land: a recording whose call id or content hash was purged never lands again,
    not even as a failure (until ``callqa purge --lift``). Returns (calls, failures, how many
    calls and failures were left out)."""
    ids, hashes = purged_keys(wh)

    def purged(call_id: str | None, sha256: str | None) -> bool:
        return call_id in ids or bool(sha256 and sha256 in hashes)

    kept = [c for c in calls if not purged(c.call_id, c.sha256)]
    kept_failures = [f for f in failures if not purged(f.call_id, f.sha256)]
    return kept, kept_failures, len(calls) - len(kept) + len(failures) - len(kept_failures)


@flow(name="nightly", persist_result=False, log_prints=False)
def nightly(
    archive: str,
    db: str | None = None,
    manifest: str | None = None,
    workers: int | None = None,
    config_path: str | None = None,
    retry_failed: bool = False,
    since: str | None = None,
    manifest_only: bool = False,
) -> dict[str, Any]:
    """Process every recording under ``archive`` not yet landed (or changed) into ``db``.

    Only new or changed files are read (a file whose path, size and modification time are
    unchanged since it landed or failed keeps its stored hash).

    Args:
        archive: folder of recordings (searched recursively).
        db: DuckDB file; default from configuration.
        manifest: CSV of call metadata; default ARCHIVE/manifest.csv when present.
        workers: parallel call tasks; default from configuration.
        config_path: TOML configuration file.
        retry_failed: also retry recordings that failed before with the same bytes.
        since: list only folders dated on or after this (``YYYY/MM/DD``, ``YYYY-MM-DD`` or
            ``YYYYMMDD`` folders; ``2026-11-02``, ``today``, ``yesterday`` or ``Nd``); files
            outside dated folders are still listed.
        manifest_only: do not walk the archive: process only the files the manifest names.
    Returns:
        The run summary (counts only; no transcript text).
    Raises:
        WarehouseBusy: another run holds the database (its run lock), or readers kept it open
            longer than ``flows.intake.READER_WAIT_S`` (processed calls stay staged and land next run).
    """
    log = get_run_logger()
    settings = load_settings(config_path).with_overrides({"warehouse.db": db, "flow.workers": workers})
    rules_catalog(settings.analysis.rules_dirs)  # a bad rule pack stops the run here, not in every call
    load_scorecards(settings.scoring)  # a missing or bad scorecard stops the run before any work
    first_day = since_date(since, settings)
    db_path = settings.warehouse.db
    with run_lock(db_path):  # the single writer: held while the database file is closed, too
        return _night(archive, settings, db_path, manifest, retry_failed, first_day, manifest_only, log)


def _night(archive: str, settings: Settings, db_path: str, manifest: str | None, retry_failed: bool,
           first_day: date | None, manifest_only: bool, log: Any) -> dict[str, Any]:
    """The run itself, under the run lock: the database is opened to plan, for each landed
    batch, and to finish; it is closed while the calls are processed."""
    with open_when_free(db_path, log) as wh:
        crashed = wh.mark_crashed_runs()
        if crashed:
            log.warning("%d earlier run(s) had stopped without finishing; their landed calls are kept", crashed)
        run_id = wh.start_run(str(archive), {k: v for k, v in settings.as_dict().items() if k in ("asr", "flow")})
    found = discover_night(archive, settings, db_path, manifest=manifest, since=first_day,
                           manifest_only=manifest_only)  # reads only new or changed files
    with open_when_free(db_path, log) as wh:
        wh.record_reads(run_id, found.hashed_files, found.hashed_bytes)
        calls, reprocess = apply_moves(found, landed_rows(found, wh), wh, run_id)  # moved / renamed / re-named
        failures = found.failures
        seen_failures = wh.known_manifest_failures()
        failures = [f for f in failures if (f.reason, f.message) not in seen_failures]  # reported once
        landable, failures, purged = skip_purged(calls, failures, wh)
        todo, skipped = plan(landable, wh, retry_failed)
        staging = staging_dir(settings)
        register_artifact(wh, staging, "staging")
    planned = {c.call_id for c in todo}
    forced = [c for c in landable if c.call_id in reprocess and c.call_id not in planned]
    todo, skipped = todo + forced, skipped - len(forced)
    left_over = find_staged(staging)
    ready = [left_over[(c.call_id, c.sha256)] for c in todo if (c.call_id, c.sha256) in left_over]
    if ready:
        log.info("%d call(s) were processed by an interrupted run and are landed as staged", len(ready))
    wanted = {(c.call_id, c.sha256) for c in todo}
    remove_staged([ref for key, ref in left_over.items() if key not in wanted])  # stale: landed or replaced
    todo = [c for c in todo if (c.call_id, c.sha256) not in left_over]
    log.info("run %s: %d recordings found (%d read, %.1f MB), %d to process, %d already landed, %d purged"
             " (not landed again)", run_id, len(calls), found.hashed_files, found.hashed_bytes / 1e6, len(todo),
             skipped, purged)
    failed = len([f for f in failures if f.stage != "manifest"])
    by_id = {c.call_id: c for c in calls}  # metadata for the calls rows of failed calls
    batch_size = settings.flow.batch_size
    waiting: dict[str, Any] = {"refs": list(ready), "failures": [], "landed": 0}

    def land(final: bool = False) -> None:
        """Land what is waiting, in batches (one transaction each), if the database can be
        opened: while a reader has it open, the calls wait for the next batch (the last
        landing waits for the reader)."""
        refs, fails = waiting["refs"], waiting["failures"]
        if not refs and not fails:
            return
        wh = open_when_free(db_path, log) if final else try_open(db_path)
        if wh is None:
            log.info("database open in another process: %d processed call(s) land with the next batch", len(refs))
            return
        with wh:
            for k in range(0, max(len(refs), 1), batch_size):
                chunk = refs[k:k + batch_size]
                wh.land([read_staged(r) for r in chunk], fails if k == 0 else [], run_id, calls=by_id)
                failpoint("batch-landed")
                remove_staged(chunk)
                waiting["landed"] += len(chunk)
        waiting["refs"], waiting["failures"] = [], []

    land()  # what an interrupted run processed: land it first
    waiting["failures"] = failures
    audio_seconds = sum(r.duration for r in ready)
    runner = task_runner(settings.flow)
    progress = RunProgress(len(todo), enabled=sys.stdout.isatty())

    with runner, progress:
        futures = {runner.submit(process_and_stage, {"call": c, "settings": settings, "staging": str(staging)}): c
                   for c in todo}
        for future in as_completed(list(futures)):
            call = futures[future]
            future.wait()
            state = future.state
            failpoint("call-processed")
            if state.is_completed():
                result: StagedRef = future.result()
                waiting["refs"].append(result)
                audio_seconds += result.duration
                progress.advance(result.duration)
            else:
                exc = state.result(raise_on_failure=False)
                waiting["failures"].append(failure_from_exception(call, exc))
                failed += 1
                log.warning("call %s failed: %s", call.call_id, waiting["failures"][-1].reason)
                progress.advance(0.0)
            if len(waiting["refs"]) >= batch_size:
                land()
        land(final=True)
    landed = waiting["landed"]
    with open_when_free(db_path, log) as wh:
        wh.finish_run(run_id, discovered=len(calls), skipped=skipped, landed=landed, failed=failed,
                      audio_seconds=audio_seconds)
        record_purged_skips(wh, run_id, purged)
        summary = wh.run_summary(run_id)
    log.info("run %s finished: %d landed, %d failed, %d skipped", run_id, landed, failed, skipped)
    return summary


def run_nightly(archive: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Call the flow from Python (the CLI does this)."""
    return nightly(str(archive), **kwargs)
