"""Atomic checkpoints: a Hugging Face model directory plus the trainer state a resume needs.

A checkpoint is written to `.tmp-step-N/` and renamed into place; a good checkpoint is never deleted before a newer
one is complete, a model holding NaN or infinity is never saved, and a resume falls back to the newest complete
checkpoint when `latest` is missing or names an incomplete one.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel

from rethinker.config import ConfigError
from rethinker.errors import UserError
from rethinker.telemetry import DiskFullError

log = logging.getLogger(__name__)

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
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
FAULT_ENV = "RETHINKER_FAULT"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class NonFiniteModelError(UserError):
    """The model's parameters hold NaN or infinity, so it is not saved over a good checkpoint."""


def fault_point(name: str, step: int) -> None:
    """Test-only fault injection: `RETHINKER_FAULT=NAME` or `NAME@STEP` kills the process here (SIGKILL).

    Names starting with `enospc` raise "no space left on device" instead, as a full disk would.
    """
    wanted = os.environ.get(FAULT_ENV)
    if wanted not in (name, f"{name}@{step}"):
        return
    if name.startswith("enospc"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    os.kill(os.getpid(), signal.SIGKILL)


def copy_processor_files(source: Path, target: Path) -> None:
    """Copy the tokenizer/processor files of `source` next to the weights, so the checkpoint loads on its own."""
    for name in PROCESSOR_FILES:
        if (Path(source) / name).is_file():
            shutil.copy2(Path(source) / name, Path(target) / name)


def first_nonfinite_parameter(model: torch.nn.Module) -> str | None:
    """The name of the first parameter holding NaN or infinity, or None when all are finite."""
    for name, parameter in model.named_parameters():
        if not bool(torch.isfinite(parameter.detach()).all()):
            return name
    return None


def tensor_bytes_in(value: Any) -> int:
    """Bytes of every tensor inside a nested state (dicts, lists, tuples)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes_in(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(tensor_bytes_in(item) for item in value)
    return 0


def is_no_space(error: BaseException, directory: Path, needed: int) -> bool:
    """Whether a failed write failed for lack of disk space (torch's writer hides the errno, so free space decides)."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return True
        text = str(current).lower()
        if "no space left" in text or "storagefull" in text:
            return True
        current = current.__cause__ or current.__context__
    try:
        return shutil.disk_usage(directory).free < needed
    except OSError:
        return False


def disk_full_error(path: Path, needed: int) -> DiskFullError:
    """The one-line error for a write that ran out of space at `path`."""
    return DiskFullError(
        f"no space left on device at {path} (needed about {needed / 2**20:.1f} MB); the partial write was removed and"
        " earlier checkpoints are kept: free some space and rerun with resume=true"
    )


def save_checkpoint(
    checkpoints_dir: Path, step: int, model: PreTrainedModel, processor_source: Path, state: dict[str, Any], keep: int
) -> Path:
    """Write `step-N/` via a temporary directory and an atomic rename, then point `latest` at it and prune old ones.

    A complete `step-N/` is never rewritten (a step holds one state); a model holding NaN or infinity is refused; a
    full disk is reported in one line after the partial copy is removed.
    """
    checkpoints_dir = Path(checkpoints_dir)
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoints_dir / f"step-{step}"
    if is_complete(final):
        log.info("%s is already saved; not writing it again", final)
        return final
    bad = first_nonfinite_parameter(model)
    if bad is not None:
        raise NonFiniteModelError(
            f"not saving step-{step}: parameter {bad} holds NaN or infinity; the checkpoints in {checkpoints_dir} are"
            " kept"
        )
    for leftover in checkpoints_dir.glob(".tmp-step-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = checkpoints_dir / f".tmp-step-{step}"
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        fault_point("enospc-in-save", step)
        copy_processor_files(processor_source, tmp)
        torch.save(state, tmp / TRAINER_STATE)
    except (OSError, RuntimeError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        needed = tensor_bytes_in(state) + sum(p.numel() * p.element_size() for p in model.parameters())
        if is_no_space(error, checkpoints_dir, needed):
            raise disk_full_error(checkpoints_dir, needed) from error
        raise
    fault_point("save-before-rename", step)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fault_point("save-before-latest", step)
    point_latest_at(final)
    fault_point("save-before-prune", step)
    prune(checkpoints_dir, keep)
    return final


def point_latest_at(checkpoint: Path) -> None:
    """Atomically make the `latest` file beside `checkpoint` name it."""
    pointer_tmp = checkpoint.parent / f".{LATEST}.{os.getpid()}.tmp"
    pointer_tmp.write_text(checkpoint.name)
    os.replace(pointer_tmp, checkpoint.parent / LATEST)


def step_dirs(checkpoints_dir: Path) -> list[tuple[int, Path]]:
    """(step, directory) of every `step-N` directory, oldest first."""
    found = []
    for path in Path(checkpoints_dir).glob("step-*"):
        match = _STEP_DIR.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found)


def is_complete(checkpoint: Path) -> bool:
    """Whether a checkpoint directory holds everything a resume reads: config, weights and trainer state."""
    checkpoint = Path(checkpoint)
    return (
        (checkpoint / TRAINER_STATE).is_file()
        and (checkpoint / "config.json").is_file()
        and any((checkpoint / name).is_file() for name in WEIGHT_FILES)
    )


def prune(checkpoints_dir: Path, keep: int) -> None:
    """Delete all but the `keep` newest complete `step-N` directories (and any directory older than those)."""
    found = step_dirs(checkpoints_dir)
    complete = [step for step, path in found if is_complete(path)]
    if len(complete) <= keep:
        return
    oldest_kept = complete[-keep]
    for step, path in found:
        if step < oldest_kept:
            shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest complete checkpoint, or None when there is none.

    That is the one `latest` points at, unless `latest` is missing, names an incomplete directory, or a newer complete
    one exists (a save killed before moving the pointer): then a warning names the one used.
    """
    checkpoints_dir = Path(checkpoints_dir)
    complete = [path for _, path in step_dirs(checkpoints_dir) if is_complete(path)]
    if not complete:
        return None
    pointer = checkpoints_dir / LATEST
    named = checkpoints_dir / pointer.read_text().strip() if pointer.is_file() else None
    newest = complete[-1]
    if named != newest:
        reason = "is missing" if named is None else f"points at {named.name}, which is incomplete or older"
        log.warning("%s %s: using %s, the newest complete checkpoint", pointer, reason, newest.name)
    return newest


def checkpoint_to_resume(checkpoints_dir: Path, resume: bool) -> Path | None:
    """The checkpoint a run starts from: the newest complete one when resuming; a fresh run refuses a directory
    holding one.

    A fresh run there would append its metrics to the old run's and prune the old checkpoints by step number,
    possibly its own newest first. A resume that finds no complete checkpoint says so before starting at step 0.
    """
    latest = latest_checkpoint(checkpoints_dir)
    if resume and latest is None:
        incomplete = [path.name for _, path in step_dirs(checkpoints_dir)]
        found = f" (incomplete: {', '.join(incomplete)})" if incomplete else ""
        log.warning("resume=true but %s holds no complete checkpoint%s: starting at step 0", checkpoints_dir, found)
    if resume and latest is not None:
        point_latest_at(latest)
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
