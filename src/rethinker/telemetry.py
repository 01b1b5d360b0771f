"""Metric sinks (JSONL, TensorBoard, optional W&B) behind one `log` call, and a progress bar with ETA."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

log = logging.getLogger(__name__)

PROCESS_LOCAL_PREFIXES = ("time/", "prompts/", "warn/")
"""Metrics that describe the process rather than the run (timings, the prompt cache's counters, warning streaks, which
restart with the process): a resumed run reproduces every other metric exactly, but not these."""


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
            try:
                import wandb
            except ImportError as exc:
                raise RuntimeError("logging.wandb=true needs W&B: pip install 'rethinker[wandb]'") from exc
            self._wandb = wandb.init(project=wandb_project, dir=str(run_dir), config=config)

    def truncate_after(self, step: int) -> None:
        """Drop lines for steps after `step` (written before a crash), so a resumed run does not duplicate them."""
        if not self.path.exists():
            return
        kept = [
            line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record `metrics` for `step` in every sink."""
        row = {"step": step, **{k: _plain(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float) and math.isfinite(value):
                    self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(dict(row), step=step)

    def histogram(self, step: int, name: str, values: torch.Tensor) -> None:
        """A histogram (e.g. of advantages) in TensorBoard and W&B; JSONL keeps scalars only."""
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


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return value


class ProgressBar(tqdm):
    """A tqdm bar that also counts the run's latest streak of steps without a learning signal."""

    label: str = ""
    no_signal_steps: int = 0


def progress_bar(total: int, initial: int, enabled: bool, desc: str) -> ProgressBar:
    """A tqdm bar that starts at `initial` (so a resumed run shows its true position and ETA)."""
    bar = ProgressBar(total=total, initial=initial, disable=not enabled, desc=desc, dynamic_ncols=True)
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
