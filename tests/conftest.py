"""Shared fixtures: one tiny model per test session, built offline; a private cache for 'tiny' model paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "real"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point the project's cache (where 'tiny' is built) at a session temp dir."""
    path = tmp_path_factory.mktemp("rethinker-cache")
    os.environ["RETHINKER_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_dir(private_cache: Path) -> Path:
    """The randomly initialised tiny Qwen2.5-VL checkpoint directory."""
    from rethinker.models.loading import cache_dir
    from rethinker.models.tiny import ensure_tiny

    return ensure_tiny(cache_dir())
