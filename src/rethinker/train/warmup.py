"""The tiny model's supervised warm-up: a start that follows the answer format and solves part of the tasks."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rethinker.config import load_config
from rethinker.sft_config import SFTConfig
from rethinker.train.checkpoint import TRAINER_STATE
from rethinker.train.sft import train_sft


def pretrain_tiny(out_dir: Path, overrides: Sequence[str] = (), progress: bool = True) -> Path:
    """Run the `sft-tiny` warm-up from the random tiny model and write the final model directory to `out_dir`."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="rethinker-warmup-") as work:
        config = load_config(
            SFTConfig,
            "sft-tiny",
            [f"run_dir={work}", "logging.tensorboard=false", f"logging.progress={str(progress).lower()}", *overrides],
        )
        final = train_sft(config)
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(final, out_dir, ignore=shutil.ignore_patterns(TRAINER_STATE))
    return out_dir
