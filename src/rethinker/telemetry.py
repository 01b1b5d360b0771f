"""Metric sinks (JSONL, TensorBoard, optional W&B) behind one `log` call, and a progress bar with ETA."""

from __future__ import annotations

import errno
import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rethinker.errors import UserError
from rethinker.jsonl import JsonlError, jsonl_entries

log = logging.getLogger(__name__)

PROCESS_LOCAL_PREFIXES = ("time/", "prompts/", "warn/", "cpu/")
"""Metrics that describe the process rather than the run (timings, the prompt cache's counters, warning streaks, the
machine's load and the thread count fitted to it, which restart with the process): a resumed run reproduces every
other metric exactly, but not these."""


class DiskFullError(UserError):
    """The disk filled up while writing a run's files; the partial write was removed."""


def run_state_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row without its process-local keys: what a resumed run must reproduce exactly."""
    return {key: value for key, value in row.items() if not key.startswith(PROCESS_LOCAL_PREFIXES)}


class MetricsLogger:
    """Writes one flat JSON object per step to `metrics.jsonl`, mirrored to TensorBoard and W&B when enabled."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, wandb_project: str | None = None, config: Any = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tb = None
        self._wandb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        if wandb_project:
            self._wandb = _start_wandb(wandb_project, Path(run_dir), config)

    def rows(self) -> list[dict[str, Any]]:
        """The rows written so far; a torn last line (a write cut short by a kill or a full disk) is dropped, warned."""
        if not self.path.exists():
            return []
        rows = []
        entries = list(jsonl_entries(self.path))
        for index, (number, entry) in enumerate(entries):
            if not isinstance(entry, JsonlError):
                rows.append(entry)
            elif index + 1 < len(entries):
                raise UserError(f"{entry}; fix or remove that line, then resume") from entry
            else:
                log.warning("%s: dropping its torn last line %d (%s)", self.path, number, entry.reason)
        return rows

    def truncate_after(self, step: int) -> None:
        """Drop lines for steps after `step` (written before a crash), so a resumed run does not duplicate them."""
        if not self.path.exists():
            return
        kept = [row for row in self.rows() if row["step"] <= step]
        self.path.write_text("".join(json.dumps(row) + "\n" for row in kept))

    def set_aside(self) -> Path | None:
        """Move the rows of an earlier run that never saved a checkpoint to the end of `metrics.jsonl.abandoned`; a
        fresh run starting over in its folder then logs no step twice. Returns where they went, or None if none.
        """
        if not self.rows():
            self.path.unlink(missing_ok=True)
            return None
        target = self.path.with_name(self.path.name + ".abandoned")
        with target.open("a") as abandoned:
            abandoned.write(self.path.read_text())
        self.path.unlink()
        return target

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record `metrics` for `step` in every sink; the JSONL line goes out in one unbuffered write, or not at all."""
        row = {"step": step, **{k: _plain(v) for k, v in metrics.items()}}
        append_line(self.path, json.dumps(row) + "\n")
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float) and math.isfinite(value):
                    self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(dict(row), step=step)

    def histogram(self, step: int, name: str, values: torch.Tensor) -> None:
        """A histogram (e.g. of advantages) of the finite `values` in TensorBoard and W&B; JSONL keeps scalars only."""
        values = values[torch.isfinite(values)]
        if self._tb is not None and values.numel():
            self._tb.add_histogram(name, values, step)
        if self._wandb is not None and values.numel():
            import wandb

            self._wandb.log({name: wandb.Histogram(values.tolist())}, step=step)

    def close(self) -> None:
        """Flush and close the sinks."""
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write call; a write cut short (a full disk) is undone and reported."""
    data = line.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
        except OSError as error:
            os.ftruncate(fd, size)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(
                    f"no space left on device at {path} (needed about {len(data) / 2**20:.3f} MB); the torn line was"
                    " removed: free some space and rerun with resume=true"
                ) from error
            raise
    finally:
        os.close(fd)


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return value


def _start_wandb(project: str, run_dir: Path, config: Any) -> Any:
    """A W&B run, or a `UserError` saying how to fix W&B (not installed, not logged in, unreachable)."""
    try:
        import wandb
    except ImportError as exc:
        raise UserError(
            "logging.wandb=true needs W&B: pip install 'rethinker[wandb]', or set logging.wandb=false"
        ) from exc
    try:
        return wandb.init(project=project, dir=str(run_dir), config=config)
    except Exception as exc:
        wandb.teardown()
        reason = " ".join(str(exc).split())[:300]
        raise UserError(
            f"W&B could not start ({type(exc).__name__}: {reason}); run `wandb login`, or set WANDB_MODE=offline to "
            "log locally and `wandb sync` later, or logging.wandb=false"
        ) from exc


def is_main_process() -> bool:
    """Whether this process is rank 0 (or not under torchrun): the one that shows progress and prints results."""
    return os.environ.get("RANK", "0") == "0"


def progress_fields(metrics: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    """Progress-bar fields (`{"acc": "eval/acc"}`) for the metrics this step has and that are finite numbers."""
    fields = {}
    for label, key in names.items():
        value = _plain(metrics.get(key))
        if isinstance(value, float) and math.isfinite(value):
            fields[label] = f"{value:.2f}"
    return fields


class ProgressBar(tqdm):
    """A tqdm bar that also counts the run's latest streak of steps without a learning signal."""

    label: str = ""
    no_signal_steps: int = 0


def progress_bar(total: int, initial: int, enabled: bool, desc: str) -> ProgressBar:
    """A tqdm bar that starts at `initial` (so a resumed run shows its true position and ETA); rank 0 only."""
    bar = ProgressBar(
        total=total, initial=initial, disable=not (enabled and is_main_process()), desc=desc, dynamic_ncols=True
    )
    bar.label = desc
    return bar


NO_SIGNAL_WARN_STEPS = 5
"""Steps in a row without a learning signal after which a run warns."""
NO_SIGNAL_METRIC = "warn/no_signal_steps"
"""The metric holding the current streak of steps in which no group had different rewards (so no gradient)."""


def no_signal_warning(streak: int, reward_mean: float) -> str:
    """The warning text for a streak of `streak` steps without a learning signal."""
    cause = (
        "every sample scored 0: almost always a format or template mismatch (the prompt asks for one "
        "answer format, the reward checks another; HFRRF pays only for <think>...</think><answer>...</answer>)"
        if reward_mean == 0.0
        else "every group's responses scored the same, so every advantage is 0 (tasks too easy or too hard?)"
    )
    return f"no learning signal for {streak} steps: {cause}"


def flag_no_signal(bar: ProgressBar, metrics: dict[str, float]) -> dict[str, float]:
    """Count steps in a row whose groups all scored flat (`groups/effective_frac` 0); warn once the streak is long.

    The warning goes to the log (and every `NO_SIGNAL_WARN_STEPS` steps again), into the progress bar's description,
    and the streak into the metrics as `warn/no_signal_steps`, which `rethinker report` reads.
    """
    flat = metrics.get("groups/effective_frac") == 0.0
    bar.no_signal_steps = bar.no_signal_steps + 1 if flat else 0
    streak = bar.no_signal_steps
    if streak >= NO_SIGNAL_WARN_STEPS:
        if streak % NO_SIGNAL_WARN_STEPS == 0:
            log.warning(no_signal_warning(streak, float(metrics.get("reward/mean", math.nan))))
        bar.set_description_str(f"{bar.label} [NO LEARNING SIGNAL for {streak} steps]", refresh=False)
    elif not flat:
        bar.set_description_str(bar.label, refresh=False)
    return {NO_SIGNAL_METRIC: float(streak)}
