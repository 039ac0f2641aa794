"""Named crash points for the crash-safety tests: ``CALLQA_FAILPOINT=<name>[:<n>]``.

When the variable names a point, the process kills itself with SIGKILL the n-th time
(default first) it passes that point — a real, unclean death, as a power cut or the OOM killer
would cause. Unset (always, in production) it costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal
import threading

_counts: dict[str, int] = {}
_lock = threading.Lock()


def failpoint(name: str) -> None:
    spec = os.environ.get("CALLQA_FAILPOINT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        hit = _counts[name] == int(nth or 1)
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
