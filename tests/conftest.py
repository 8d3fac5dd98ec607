"""Shared fixtures: `lab` is one real lab process for the whole test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from labfixture import RunningLab, start_lab, stop_lab  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> RunningLab:
    running = start_lab(tmp_path_factory.mktemp("lab"))
    yield running
    stop_lab(running)
