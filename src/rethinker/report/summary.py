"""The numbers that sum up a run, and the `report.md` / `report.json` that present them next to the figures."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rethinker.report.markdown import fenced, markdown_cell, markdown_table
from rethinker.report.metrics import Run, finite_number, latest_samples_file, read_samples
from rethinker.report.plots import FIGURES, Series, feature_was_off
from rethinker.report.warnings import run_warnings

WINDOW_FRACTION = 0.1
"""Reward at the start and end of a run is averaged over this share of its training steps."""
MAX_SAMPLE_CHARS = 2000
"""Longer questions and responses are cut in `report.md` (the samples file keeps them whole)."""


@dataclass(frozen=True)
class RunSummary:
    """Headline numbers of one run; None where the run did not log the metric."""

    label: str
    path: str
    steps: int
    evaluations: int
    start_acc: float | None
    start_acc_step: int | None
    end_acc: float | None
    end_acc_step: int | None
    best_acc: float | None
    best_acc_step: int | None
    reward_start: float | None
    reward_end: float | None
    effective_start: float | None
    effective_end: float | None
    sft_loss_start: float | None
    sft_loss_end: float | None
    eval_loss_start: float | None
    eval_loss_end: float | None
    eval_loss_end_step: int | None
    total_time_s: float | None


def edge_means(values: Sequence[float], fraction: float = WINDOW_FRACTION) -> tuple[float | None, float | None]:
    """Means of the first and of the last `fraction` of `values` (at least one value each); None when empty."""
    if not values:
        return None, None
    width = max(1, math.ceil(len(values) * fraction))
    return sum(values[:width]) / width, sum(values[-width:]) / width


def summarize(run: Run) -> RunSummary:
    """The headline numbers of `run`: held-out accuracy (first, last, best), reward and effective share, time."""
    acc_steps, accs = run.series("eval/acc")
    best = max(range(len(accs)), key=lambda index: accs[index]) if accs else None
    reward_start, reward_end = edge_means(run.series("reward/mean")[1])
    effective = run.series("groups/effective_frac")[1]
    step_times = run.series("time/step_s")[1]
    sft_losses = run.series("loss/sft")[1]
    sft_loss_start, sft_loss_end = edge_means([] if feature_was_off("loss/sft", sft_losses) else sft_losses)
    eval_loss_steps, eval_losses = run.series("eval/loss")
    return RunSummary(
        label=run.label,
        path=str(run.path),
        steps=max(int(row["step"]) for row in run.rows),
        evaluations=len(accs),
        start_acc=accs[0] if accs else None,
        start_acc_step=acc_steps[0] if accs else None,
        end_acc=accs[-1] if accs else None,
        end_acc_step=acc_steps[-1] if accs else None,
        best_acc=accs[best] if best is not None else None,
        best_acc_step=acc_steps[best] if best is not None else None,
        reward_start=reward_start,
        reward_end=reward_end,
        effective_start=effective[0] if effective else None,
        effective_end=effective[-1] if effective else None,
        sft_loss_start=sft_loss_start,
        sft_loss_end=sft_loss_end,
        eval_loss_start=eval_losses[0] if eval_losses else None,
        eval_loss_end=eval_losses[-1] if eval_losses else None,
        eval_loss_end_step=eval_loss_steps[-1] if eval_losses else None,
        total_time_s=sum(step_times) if step_times else None,
    )


def format_value(value: float | None) -> str:
    """A fraction or score as shown in `report.md`: three decimals, or a dash when missing."""
    return "-" if value is None else f"{value:.3f}"


def format_duration(seconds: float | None) -> str:
    """Seconds as `1h 02m 03s` (or `2m 03s`, `4.5s`), a dash when missing."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def summary_rows(summary: RunSummary) -> list[tuple[str, str]]:
    """(name, shown value) of each headline number of a run, in the order the tables list them."""
    percent = f"{WINDOW_FRACTION:.0%}"
    return [
        ("steps", str(summary.steps)),
        ("held-out accuracy at start", format_value(summary.start_acc) + _at(summary.start_acc_step)),
        ("held-out accuracy at end", format_value(summary.end_acc) + _at(summary.end_acc_step)),
        ("best held-out accuracy", format_value(summary.best_acc) + _at(summary.best_acc_step)),
        (f"mean reward, first {percent} of steps", format_value(summary.reward_start)),
        (f"mean reward, last {percent} of steps", format_value(summary.reward_end)),
        ("effective-group share at start", format_value(summary.effective_start)),
        ("effective-group share at end", format_value(summary.effective_end)),
        (f"SFT loss, first {percent} of steps", format_value(summary.sft_loss_start)),
        (f"SFT loss, last {percent} of steps", format_value(summary.sft_loss_end)),
        ("held-out loss at start", format_value(summary.eval_loss_start)),
        ("final held-out loss", format_value(summary.eval_loss_end) + _at(summary.eval_loss_end_step)),
        ("total step time", format_duration(summary.total_time_s)),
    ]


def comparison_table(summaries: Sequence[RunSummary]) -> str:
    """The headline numbers of several runs side by side, one column per run; rows no run has are left out."""
    columns = [summary_rows(summary) for summary in summaries]
    names = [name for name, _ in columns[0]]
    rows = [[name, *(column[index][1] for column in columns)] for index, name in enumerate(names)]
    rows = [row for row in rows if any(cell != "-" for cell in row[1:])]
    return markdown_table(["metric", *(markdown_cell(summary.label) for summary in summaries)], rows)


def sample_markdown(record: Mapping[str, Any], samples_dir: Path, out_dir: Path) -> str:
    """One logged generation as Markdown: its images (linked relative to `out_dir`), question, response, reward."""
    parts = [f"#### {markdown_cell(str(record.get('id', 'example')))}"]
    images = record.get("images")
    for image in images if isinstance(images, list) else []:
        link = Path(os.path.relpath(samples_dir / str(image), out_dir)).as_posix()
        parts.append(f"![image]({quote(link)})")
    for name in ("question", "response"):
        parts += [f"**{name.capitalize()}:**", fenced(_clip(str(record.get(name, ""))))]
    gold = record.get("gold")
    gold_text = "-" if gold is None else f"`{markdown_cell(str(gold))}`"
    parts.append(f"**Gold:** {gold_text} | **Reward:** {format_value(finite_number(record.get('reward')))}")
    return "\n\n".join(parts)


def warning_panel(warnings: Sequence[str]) -> str:
    """A Markdown block quote that lists a run's warnings; `<` is escaped so tags such as `<think>` stay visible."""
    return "\n>\n".join(f"> **Warning:** {markdown_cell(text).replace('<', '&lt;')}" for text in warnings)


def run_markdown(
    summary: RunSummary,
    samples: Sequence[Mapping[str, Any]],
    samples_file: Path | None,
    out_dir: Path,
    warnings: Sequence[str] = (),
) -> str:
    """The section of `report.md` for one run: its warnings, its table, then a few of its latest generations."""
    parts = [f"## {markdown_cell(summary.label)}", f"Run directory: `{summary.path}`"]
    if warnings:
        parts.append(warning_panel(warnings))
    parts.append(comparison_table([summary]))
    if samples_file is not None and samples:
        parts.append(f"### Generations from `{samples_file.parent.name}/{samples_file.name}`")
        parts += [sample_markdown(record, samples_file.parent, out_dir) for record in samples]
    return "\n\n".join(parts)


def write_report(
    runs: Sequence[Run], figures: Mapping[str, list[Series]], out_dir: Path, samples_per_run: int = 3, smooth: int = 1
) -> tuple[Path, Path]:
    """Write `report.md` and `report.json` into `out_dir`; returns their paths."""
    summaries = [summarize(run) for run in runs]
    warnings = [run_warnings(run) for run in runs]
    samples_files = [latest_samples_file(run.path) for run in runs]
    samples = [read_samples(file, samples_per_run) if file else [] for file in samples_files]
    titles = {spec.file: spec.title for spec in FIGURES}
    sections = ["# Training report", f"Runs: {', '.join(markdown_cell(s.label) for s in summaries)}"]
    sections += [
        warning_panel([f"{summary.label}: {text}" for text in run_warned])
        for summary, run_warned in zip(summaries, warnings, strict=True)
        if run_warned
    ]
    if len(summaries) > 1:
        sections.append(comparison_table(summaries))
    sections += [
        run_markdown(summary, shown, file, out_dir, run_warned)
        for summary, shown, file, run_warned in zip(summaries, samples, samples_files, warnings, strict=True)
    ]
    if figures:
        sections.append("## Figures")
        sections += [f"### {titles[file]}\n\n![{titles[file]}]({file})" for file in figures]
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "report.md"
    markdown.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    data = {
        "smooth": smooth,
        "runs": [
            {
                **asdict(summary),
                "samples_file": str(file) if file else None,
                "samples_shown": len(shown),
                "warnings": run_warned,
            }
            for summary, file, shown, run_warned in zip(summaries, samples_files, samples, warnings, strict=True)
        ],
        "figures": {
            file: {"title": titles[file], "series": [asdict(line) for line in series]}
            for file, series in figures.items()
        },
    }
    report_json = out_dir / "report.json"
    report_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return markdown, report_json


def _at(step: int | None) -> str:
    return "" if step is None else f" at step {step}"


def _clip(text: str) -> str:
    if len(text) <= MAX_SAMPLE_CHARS:
        return text
    return text[:MAX_SAMPLE_CHARS] + f"\n[... {len(text) - MAX_SAMPLE_CHARS} more characters]"
