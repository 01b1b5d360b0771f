"""Atomic checkpoints: a Hugging Face model directory plus the trainer state a resume needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from rethinker.config import ConfigError

PROCESSOR_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
)
TRAINER_STATE = "trainer_state.pt"
LATEST = "latest"


def copy_processor_files(source: Path, target: Path) -> None:
    """Copy the tokenizer/processor files of `source` next to the weights, so the checkpoint loads on its own."""
    for name in PROCESSOR_FILES:
        if (Path(source) / name).is_file():
            shutil.copy2(Path(source) / name, Path(target) / name)


def save_checkpoint(
    checkpoints_dir: Path, step: int, model: PreTrainedModel, processor_source: Path, state: dict[str, Any], keep: int
) -> Path:
    """Write `step-N/` via a temporary directory and an atomic rename, then point `latest` at it and prune old ones."""
    checkpoints_dir = Path(checkpoints_dir)
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoints_dir / f"step-{step}"
    tmp = checkpoints_dir / f".tmp-step-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    copy_processor_files(processor_source, tmp)
    torch.save(state, tmp / TRAINER_STATE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer_tmp = checkpoints_dir / f".{LATEST}.tmp"
    pointer_tmp.write_text(final.name)
    os.replace(pointer_tmp, checkpoints_dir / LATEST)
    prune(checkpoints_dir, keep)
    return final


def prune(checkpoints_dir: Path, keep: int) -> None:
    """Delete all but the `keep` newest `step-N` directories."""
    steps = sorted(checkpoints_dir.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The directory `latest` points at, or None when nothing was saved."""
    pointer = Path(checkpoints_dir) / LATEST
    if not pointer.is_file():
        return None
    path = Path(checkpoints_dir) / pointer.read_text().strip()
    return path if (path / TRAINER_STATE).is_file() else None


def checkpoint_to_resume(checkpoints_dir: Path, resume: bool) -> Path | None:
    """The checkpoint a run starts from: the latest one when resuming; a fresh run refuses a directory holding one.

    A fresh run there would append its metrics to the old run's and prune the old checkpoints by step number,
    possibly its own newest first.
    """
    latest = latest_checkpoint(checkpoints_dir)
    if resume or latest is None:
        return latest
    raise ConfigError(
        f"{Path(checkpoints_dir).parent} already holds a run (checkpoint {latest.name}): pass resume=true to continue"
        " it, or choose another run_dir"
    )


def load_trainer_state(checkpoint: Path) -> dict[str, Any]:
    """The trainer state saved beside a checkpoint's weights (tensors and plain values only; nothing is unpickled).

    Memory-mapped, so the ranks of a distributed resume do not each hold a full copy of the optimizer state.
    """
    return torch.load(Path(checkpoint) / TRAINER_STATE, map_location="cpu", weights_only=True, mmap=True)
