"""Trainer test fixtures: the tiny preset shrunk to seconds per step, with a plug-in reward that has spread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rethinker.config import RLConfig, load_config

PARITY = str(Path(__file__).with_name("parity_reward.py"))


def small_config(run_dir: Path, *overrides: str) -> RLConfig:
    """The tiny preset shrunk to seconds per step, with the parity plug-in reward."""
    base = [
        f"run_dir={run_dir}",
        "data.synthetic.train_size=64",
        "data.synthetic.eval_size=8",
        "eval.size=8",
        "eval.every=0",
        "eval.at_start=false",
        "train.steps=2",
        "train.queries_per_episode=4",
        "rollout.group_size=4",
        "rollout.max_new_tokens=8",
        "checkpoint.every=0",
        "logging.progress=false",
        "logging.tensorboard=false",
        f"reward.fn={PARITY}:score",
    ]
    return load_config(RLConfig, "tiny", [*base, *overrides])


@pytest.fixture
def tiny_config(tiny_dir: Path) -> Callable[..., RLConfig]:
    """A factory of small RL configs on the tiny model: `tiny_config(run_dir, "key=value", ...)`."""
    return small_config


@pytest.fixture
def parity_reward() -> str:
    """The plug-in reward file, as `path:function` prefix."""
    return PARITY
