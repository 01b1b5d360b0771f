"""Figures of training runs, one PNG per topic, several runs overlaid; drawn off-screen (Agg), no display needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from matplotlib.figure import Figure

from rethinker.report.metrics import Run

PANEL_WIDTH_IN = 6.5
FIGURE_HEIGHT_IN = 4.5
DPI = 100
LineStyle: TypeAlias = str | tuple[int, tuple[int, ...]]
_LINESTYLES: tuple[LineStyle, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


@dataclass(frozen=True)
class Panel:
    """One axes: a y-axis label and the metric keys drawn on it."""

    ylabel: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class FigureSpec:
    """One PNG: its file name, title and panels (drawn side by side)."""

    file: str
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Series:
    """What one line of a figure shows: the run's label, the metric key and how many points it has."""

    label: str
    key: str
    points: int


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("reward.png", "Reward and held-out accuracy", (Panel("value", ("reward/mean", "eval/acc")),)),
    FigureSpec(
        "groups.png",
        "Query groups by advantage (effective = non-zero advantage)",
        (
            Panel("share of queries", ("groups/effective_frac", "groups/all_correct_frac", "groups/all_wrong_frac")),
            Panel(
                "share of queries",
                (
                    "groups/bucket_all_false",
                    "groups/bucket_hard",
                    "groups/bucket_medium",
                    "groups/bucket_easy",
                    "groups/bucket_all_true",
                ),
            ),
        ),
    ),
    FigureSpec("length.png", "Response length", (Panel("tokens", ("response/len_mean",)),)),
    FigureSpec(
        "rethinking.png",
        "Forced rethinking",
        (
            Panel("rate", ("rethink/forced_frac", "rethink/accepted_frac", "rethink/spontaneous_frac")),
            Panel("accuracy", ("rethink/acc_before", "rethink/acc_after")),
        ),
    ),
    FigureSpec(
        "replay.png",
        "Selective sample replay",
        (
            Panel("share of batch", ("batch/effective_frac", "batch/replay_frac")),
            Panel("samples", ("replay/buffer_size",)),
        ),
    ),
    FigureSpec(
        "loss.png",
        "Losses",
        (Panel("policy loss", ("loss/policy",)), Panel("loss", ("loss/kl", "loss/sft", "eval/loss"))),
    ),
    FigureSpec(
        "time.png",
        "Step time",
        (Panel("seconds", ("time/step_s", "time/rollout_s", "time/reward_s", "time/update_s")),),
    ),
)
"""Every figure the report can draw; a series with no points is left out, and a figure with none is not written."""

OFF_WHEN_ZERO = ("replay/", "batch/replay_frac", "loss/kl", "loss/sft", "rethink/")
"""Metrics of optional features (replay, KL, rethinking's SFT loss) that a run with the feature off logs as zeros."""


def feature_was_off(key: str, values: Sequence[float]) -> bool:
    """Whether `values` of an optional feature's metric are all zero: the feature was off, so nothing is drawn."""
    return key.startswith(OFF_WHEN_ZERO) and all(value == 0 for value in values)


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last `window` values (fewer at the start); `window <= 1` returns the values unchanged."""
    if window <= 1:
        return list(values)
    averaged: list[float] = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        averaged.append(total / min(index + 1, window))
    return averaged


def is_sparse(key: str) -> bool:
    """Whether a metric is logged only on some steps (evaluations): drawn with markers and never smoothed."""
    return key.startswith("eval/")


def plot_figure(spec: FigureSpec, runs: Sequence[Run], out_dir: Path, smooth: int = 1) -> list[Series]:
    """Draw `spec` for `runs` into `out_dir/spec.file`; returns the series drawn (empty: no file is written)."""
    panels = [(panel, _panel_series(panel, runs)) for panel in spec.panels]
    panels = [(panel, lines) for panel, lines in panels if lines]
    if not panels:
        return []
    figure = Figure(figsize=(PANEL_WIDTH_IN * len(panels), FIGURE_HEIGHT_IN), dpi=DPI, layout="tight")
    axes = figure.subplots(1, len(panels), squeeze=False)
    drawn: list[Series] = []
    for ax, (panel, lines) in zip(axes[0], panels, strict=True):
        for run_index, run, key_index, key in lines:
            steps, values = run.series(key)
            color, linestyle = _style(run_index, key_index, len(runs), len(panel.keys))
            name = key if len(runs) == 1 else f"{run.label}: {key}"
            if is_sparse(key):
                ax.plot(steps, values, color=color, linestyle=linestyle, marker="o", markersize=4, label=name)
            else:
                ax.plot(steps, moving_average(values, smooth), color=color, linestyle=linestyle, label=name)
            drawn.append(Series(label=run.label, key=key, points=len(values)))
        ax.set_xlabel("step")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    suffix = f" (moving average over {smooth} steps)" if smooth > 1 else ""
    figure.suptitle(spec.title + suffix)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_dir / spec.file, format="png")
    return drawn


def plot_runs(runs: Sequence[Run], out_dir: Path, smooth: int = 1) -> dict[str, list[Series]]:
    """Every figure of `FIGURES` that has data, by file name, with the series each one shows."""
    figures = {spec.file: plot_figure(spec, runs, out_dir, smooth) for spec in FIGURES}
    return {file: series for file, series in figures.items() if series}


def features_off(runs: Sequence[Run]) -> list[str]:
    """The figures' metrics that every run logged only as zeros of a feature that was off (left out of the figures)."""
    keys = dict.fromkeys(key for spec in FIGURES for panel in spec.panels for key in panel.keys)
    return [
        key
        for key in keys
        if any(run.series(key)[1] for run in runs) and all(feature_was_off(key, run.series(key)[1]) for run in runs)
    ]


def _panel_series(panel: Panel, runs: Sequence[Run]) -> list[tuple[int, Run, int, str]]:
    """(run index, run, key index, key) for every key of `panel` that a run has values of, not all off-zeros."""
    return [
        (run_index, run, key_index, key)
        for run_index, run in enumerate(runs)
        for key_index, key in enumerate(panel.keys)
        if run.series(key)[1] and not feature_was_off(key, run.series(key)[1])
    ]


def _style(run_index: int, key_index: int, runs: int, keys: int) -> tuple[str, LineStyle]:
    """One run: a colour per key. Several runs: a colour per run, and a line style per key when a panel has several."""
    if runs == 1:
        return f"C{key_index % 10}", "-"
    return f"C{run_index % 10}", _LINESTYLES[key_index % len(_LINESTYLES)] if keys > 1 else "-"
