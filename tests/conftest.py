"""Fixtures: the test data in the repository, the configuration, the real Whisper model, a Prefect server.

Every file a test reads is in this repository: tests/data (see tests/data/README.md) and the
bundled sample calls in samples/calls. Builders shared by several modules are in tests/helpers.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SAMPLE_CALLS = REPO / "samples" / "calls"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: clips, ground truth of the scripted calls, labelled utterances, COLD dev."""
    return TEST_DATA


@pytest.fixture(scope="session")
def sample_calls() -> Path:
    """samples/calls: the scripted calls' stereo recordings, dev_call_06.mono.wav, manifest.csv."""
    return SAMPLE_CALLS


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cfg():
    """Default configuration (ignores any callqa.toml in the working directory)."""
    from core.settings import load_settings

    return load_settings(TEST_DATA / "test.toml", environ={})


@pytest.fixture(scope="session")
def transcriber(cfg):
    """The real bundled Whisper base, loaded once for the session."""
    from flows.recording import transcriber_for

    return transcriber_for(cfg)


@pytest.fixture(scope="session")
def harness():
    """A temporary Prefect server for the flow tests (started once: 20-40 s on 2 cores)."""
    import flows  # noqa: F401  (project Prefect settings first)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
