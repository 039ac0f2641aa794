"""Shared fixtures: where the shared test data lives, temp databases, the real Whisper model."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CALLQA_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (override with CALLQA_SHARED=/path/to/shared)."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set CALLQA_SHARED")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cfg():
    """Default configuration (ignores any callqa.toml in the working directory)."""
    from core.settings import load_settings

    return load_settings(REPO / "tests" / "data" / "test.toml", environ={})


@pytest.fixture(scope="session")
def transcriber(cfg):
    """The real bundled Whisper base, loaded once for the session."""
    from flows.recording import transcriber_for

    return transcriber_for(cfg)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate ignoring spaces and punctuation."""
    from speech.text import character_error_rate

    errors, n = character_error_rate(reference, hypothesis)
    return errors / max(n, 1)


@pytest.fixture(scope="session")
def harness():
    """A temporary Prefect server for the flow tests (started once: 20-40 s on 2 cores)."""
    import flows  # noqa: F401  (project Prefect settings first)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
