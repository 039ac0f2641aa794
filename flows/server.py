"""A temporary Prefect API server that never outlives the process that started it.

Without ``PREFECT_API_URL`` Prefect starts a temporary ("ephemeral") server as a child
process and stops it at exit; a ``callqa run`` killed with SIGKILL (or by the OOM killer)
never reaches that code and leaves the server running. ``api_server()`` starts the same
server itself, through a small launcher that ties it to this process: on Linux the kernel
sends it SIGTERM when this process dies (``prctl(PR_SET_PDEATHSIG)``), and on every system a
watcher thread in the server stops it when its parent is gone (SIGTERM, then exit after a
grace period).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import flows  # noqa: F401  (offline-safe Prefect settings before Prefect is imported)
import prefect
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

PARENT_ENV = "CALLQA_SERVER_PARENT"
_LAUNCHER = r"""
import ctypes, os, runpy, signal, sys, threading, time
parent = int(os.environ.pop("CALLQA_SERVER_PARENT"))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
except (AttributeError, OSError):
    pass
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(0)
def watch():
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10.0)
    os._exit(1)  # graceful shutdown hung
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = "uvicorn"
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


class TiedServer(SubprocessASGIServer):
    """Prefect's temporary server, started through the launcher above."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        # The same command and environment as SubprocessASGIServer (Prefect 3.9), via _LAUNCHER.
        return subprocess.Popen(
            args=[sys.executable, "-c", _LAUNCHER, "--app-dir", str(prefect.__module_path__.parent),
                  "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                  "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1",
                 **get_current_settings().to_environment_variables(exclude_unset=True),
                 PARENT_ENV: str(os.getpid())},
        )


@contextlib.contextmanager
def api_server() -> Iterator[str | None]:
    """Run the block against ``PREFECT_API_URL`` when one is configured, else against a
    temporary server tied to this process. The server stops at exit, as Prefect's own does
    (after the log and event workers have flushed to it), or when the process dies. Yields
    the temporary server's API URL (None when one was configured)."""
    if PREFECT_API_URL.value():
        yield None
        return
    server = SubprocessASGIServer._instances.get(None)
    if server is None:  # registered under Prefect's default key: its own calls find this one
        server = TiedServer()
    server.start()
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url  # worker processes (Dask) use it too
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved
