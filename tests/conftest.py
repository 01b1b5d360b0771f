"""Shared fixtures: the tiny model built once per session, a private cache, and small RL configs for trainer tests.

Tests run torch single-threaded (unless OMP_NUM_THREADS says otherwise): the tiny model gains nothing from threads,
and on a shared 2-core machine threaded torch slows down by an order of magnitude.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForImageTextToText

from rethinker.config import RLConfig, load_config
from rethinker.models.loading import cache_dir
from rethinker.models.tiny import ensure_tiny
from rethinker.train.checkpoint import copy_processor_files

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point the project's cache (where 'tiny' is built) at a session temp dir."""
    path = tmp_path_factory.mktemp("rethinker-cache")
    os.environ["RETHINKER_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_dir(private_cache: Path) -> Path:
    """The randomly initialised tiny Qwen2.5-VL checkpoint directory."""
    return ensure_tiny(cache_dir())


PARITY = str(Path(__file__).parent / "train" / "parity_reward.py")


SMALL_RUN = (
    "model.path=tiny-random",
    "data.synthetic.train_size=64",
    "data.synthetic.eval_size=8",
    "data.synthetic.families=[count, count_color, compare, sum_count, max_color]",
    "eval.size=8",
    "eval.every=0",
    "eval.at_start=false",
    "train.queries_per_episode=4",
    "rollout.group_size=4",
    "rollout.max_new_tokens=8",
    "logging.progress=false",
    "logging.tensorboard=false",
    f"reward.fn={PARITY}:score",
)
"""Overrides that shrink the tiny preset to seconds per step, with the parity plug-in reward."""


def small_config(run_dir: Path, *overrides: str) -> RLConfig:
    """The tiny preset shrunk to seconds per step (2 steps, no checkpoints), with the parity plug-in reward."""
    base = [f"run_dir={run_dir}", *SMALL_RUN, "train.steps=2", "checkpoint.every=0"]
    return load_config(RLConfig, "tiny", [*base, *overrides])


@pytest.fixture
def tiny_config(tiny_dir: Path) -> Callable[..., RLConfig]:
    """A factory of small RL configs on the tiny model: `tiny_config(run_dir, "key=value", ...)`."""
    return small_config


@pytest.fixture
def parity_reward() -> str:
    """The plug-in reward file, as `path:function` prefix."""
    return PARITY


@pytest.fixture(scope="session")
def eos_prone_dir(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its EOS logit raised, so short responses end with EOS (as trained models' do)."""
    target = tmp_path_factory.mktemp("eos-prone")
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    eos = model.config.text_config.eos_token_id
    with torch.no_grad():
        model.lm_head.weight[eos] = model.model.language_model.norm.weight.sign() * 1.5
    model.save_pretrained(target)
    copy_processor_files(tiny_dir, target)
    shutil.copy2(tiny_dir / "generation_config.json", target / "generation_config.json")
    return target


RETHINKER = str(Path(sys.executable).with_name("rethinker"))


def run_rethinker(
    *args: str, cwd: Path | None = None, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed `rethinker` console command exactly as a user types it; output captured as text."""
    return subprocess.run(
        [RETHINKER, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A user error: exit status 2, no traceback, and the message names each fragment."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr[-2000:])


@pytest.fixture
def rethinker_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`rethinker_cli("train", "tiny", "train.steps=1", cwd=...)` runs the console command in a subprocess."""
    return run_rethinker


@pytest.fixture
def user_error() -> Callable[..., None]:
    """`user_error(result, "file.yaml", "key")` asserts a clean one-line user error naming each fragment."""
    return assert_user_error
