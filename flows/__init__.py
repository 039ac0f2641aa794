"""Prefect flows wiring speech/, analysis/ and warehouse/ together.

Importing this package sets offline-safe Prefect defaults (telemetry off, a project-local
PREFECT_HOME, generous start-up timeouts for a temporary server on small machines) unless
the environment already sets them.
"""
import os
from pathlib import Path

_PROJECT = Path(__file__).resolve().parents[1]
for _key, _value in {
    "PREFECT_HOME": str(_PROJECT / ".prefect"),
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "HF_HUB_OFFLINE": "1",
}.items():
    os.environ.setdefault(_key, _value)
