"""Fixtures for the report tests: a fabricated run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.runs import write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A 20-step run with evaluations every 5 steps, rethinking and replay telemetry."""
    path = tmp_path / "ssr-rethink"
    write_run(path, rethink=True, replay=True)
    return path
