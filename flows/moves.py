"""Recordings found again: moved or renamed files, and calls a fixed manifest now names.

The same bytes (sha256) never land twice. Before planning what to process, each discovered
call is compared with what the warehouse holds:

* same id, same bytes, another path → a **move**: the landed call's ``path`` and
  ``size_bytes`` are updated; nothing is processed again.
* an id not landed with these bytes, but the bytes landed under another id whose file is gone
  → a **move** too: the call keeps its landed id and rows (a file-name id never replaces one);
  when the manifest names the call, it is **re-keyed** to the manifest's id instead.
* the bytes landed under another id whose file is still there → a **duplicate**: reported,
  not landed (as within one run).
* a call the manifest names whose landed metadata differs → its metadata is updated; when the
  manifest's channel roles differ from the landed ones the call is processed again (roles
  shape every utterance row).

Prefect-free; the warehouse calls are made by ``flows.nightly``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from core.domain import Call, Failure
from core.files import same_file, sha256_file
from flows.discovery import Discovery

METADATA = ("collector_id", "account_id", "started_at", "timezone", "direction", "campaign", "team")


@dataclass(slots=True)
class Reconciled:
    """What to do about calls that are already landed.

    Attributes:
        calls: the discovered calls as ``plan`` should see them (a moved call under its landed id).
        moves: (call_id, new path, size) of landed calls whose recording is somewhere else now.
        rekeys: (landed id, manifest id) of landed calls the manifest now names differently.
        metadata: calls whose landed manifest metadata is to be replaced by theirs.
        reprocess: ids of landed calls to process again (the manifest changed their roles).
        failures: recordings that are copies of a landed one.
    """

    calls: list[Call]
    moves: list[tuple[str, str, int]] = field(default_factory=list)
    rekeys: list[tuple[str, str]] = field(default_factory=list)
    metadata: list[Call] = field(default_factory=list)
    reprocess: set[str] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)


def _moved(landed: dict[str, Any], call: Call) -> bool:
    """The recording is somewhere else now (same bytes: the size follows the path)."""
    return landed["path"] != call.path and os.path.realpath(landed["path"]) != os.path.realpath(call.path)


def _still_there(landed: dict[str, Any], call: Call) -> bool:
    """The landed recording is still where it was, with the same bytes (so ``call`` is a copy)."""
    old = landed["path"]
    try:
        return os.path.isfile(old) and not same_file(old, call.path) and sha256_file(old) == call.sha256
    except (OSError, ValueError):
        return False


def _metadata_differs(landed: dict[str, Any], call: Call) -> bool:
    return any(landed[k] != getattr(call, k) for k in METADATA)


def reconcile(found: Discovery, landed: dict[str, dict[str, Any]]) -> Reconciled:
    """Decide moves, re-keys, metadata updates and duplicates (see the module doc).

    Args:
        found: this run's discovery.
        landed: ``Warehouse.landed_files()``.
    """
    result = Reconciled(calls=[])
    ids_now = {c.call_id for c in found.calls}
    by_sha: dict[str, list[str]] = {}
    for call_id, row in sorted(landed.items(), key=lambda kv: (kv[1]["status"] != "ok", kv[0])):
        if row["sha256"] and call_id not in ids_now:
            by_sha.setdefault(row["sha256"], []).append(call_id)  # landed calls first, then failed
    for call in found.calls:
        named = call.call_id in found.named
        mine = landed.get(call.call_id)
        if (mine is None or mine["sha256"] != call.sha256) and by_sha.get(call.sha256):
            old = by_sha[call.sha256].pop(0)
            if _still_there(landed[old], call):
                result.failures.append(Failure(
                    call.call_id, call.path, call.sha256, "discover", "duplicate",
                    f"same audio as landed call {old}, whose file is still there; not landed again"))
                continue
            mine = landed[old]
            if named:
                result.rekeys.append((old, call.call_id))
            else:
                call = replace(call, call_id=old)
        if mine is not None and mine["sha256"] == call.sha256:
            if _moved(mine, call):
                result.moves.append((call.call_id, call.path, call.size_bytes))
            if named and mine["status"] == "ok":
                if _metadata_differs(mine, call):
                    result.metadata.append(call)
                if call.channel_roles and tuple(mine["channel_roles"] or ()) != tuple(call.channel_roles):
                    result.reprocess.add(call.call_id)
        result.calls.append(call)
    return result
