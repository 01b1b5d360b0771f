"""How hard a data set is for a model: pass rates from metadata by difficulty bucket, overall and per category."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from rethinker.data.schema import Example
from rethinker.data.selection import DIFFICULTY_BUCKETS, difficulty_bucket
from rethinker.errors import UserError
from rethinker.report.markdown import markdown_cell, markdown_table

ALL = "all"
"""The row / panel holding every example with a pass rate."""
NO_CATEGORY = "(none)"
"""The category of an example whose metadata lacks the category key."""
FIGURE_FILE = "difficulty.png"
MARKDOWN_FILE = "difficulty.md"
HISTOGRAM_BINS = tuple((k - 0.5) / 8 for k in range(10))
"""Bin edges centred on 0, 1/8, ..., 1: pass rates over 8 samples fall one per bin."""
PANEL_SIZE_IN = (4.0, 3.0)
MAX_COLUMNS = 4


@dataclass(frozen=True)
class DifficultyReport:
    """Bucket counts overall and per category, how many examples had no pass rate, and the files written."""

    column: str
    overall: dict[str, int]
    by_category: dict[str, dict[str, int]]
    missing: int
    figure: Path
    markdown: Path


def parse_pass_rate(value: object, where: str) -> float | None:
    """A pass rate as a float in [0, 1]; None when missing or NaN; a ValueError naming `where` when out of range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UserError(f"{where}: pass rate {value!r} is not a number")
    try:
        rate = float(value)
    except ValueError as exc:
        raise UserError(f"{where}: pass rate {value!r} is not a number") from exc
    if math.isnan(rate):
        return None
    if not 0 <= rate <= 1:
        raise UserError(f"{where}: pass rate {rate} is outside [0, 1]")
    return rate


def bucket_counts(pass_rates: Iterable[float]) -> dict[str, int]:
    """How many pass rates fall in each difficulty bucket, every bucket listed in order (SPEC section 3)."""
    counts = dict.fromkeys(DIFFICULTY_BUCKETS, 0)
    for rate in pass_rates:
        counts[difficulty_bucket(rate)] += 1
    return counts


def group_pass_rates(
    examples: Iterable[Example], column: str, category_key: str | None
) -> tuple[dict[str, list[float]], int]:
    """Pass rates by category (every rate also under `ALL`), largest category first, and the count without one."""
    groups: dict[str, list[float]] = {ALL: []}
    missing = 0
    for example in examples:
        rate = parse_pass_rate(example.metadata.get(column), f"example {example.id!r} metadata {column!r}")
        if rate is None:
            missing += 1
            continue
        groups[ALL].append(rate)
        if category_key is not None:
            category = example.metadata.get(category_key)
            groups.setdefault(NO_CATEGORY if category is None else str(category), []).append(rate)
    ordered = sorted((name for name in groups if name != ALL), key=lambda name: (-len(groups[name]), name))
    return {name: groups[name] for name in (ALL, *ordered)}, missing


def difficulty_table(groups: dict[str, list[float]]) -> str:
    """A Markdown table: one row per group, with counts per bucket, the total and the mean pass rate."""
    rows = []
    for name, rates in groups.items():
        counts = bucket_counts(rates)
        mean = f"{sum(rates) / len(rates):.3f}" if rates else "-"
        rows.append(
            [markdown_cell(name), *(str(counts[bucket]) for bucket in DIFFICULTY_BUCKETS), str(len(rates)), mean]
        )
    return markdown_table(["category", *DIFFICULTY_BUCKETS, "total", "mean pass rate"], rows)


def plot_pass_rates(groups: dict[str, list[float]], column: str, path: Path) -> None:
    """One histogram of pass rates per group (overall first), in a grid."""
    columns = min(MAX_COLUMNS, len(groups))
    rows = math.ceil(len(groups) / columns)
    figure = Figure(figsize=(PANEL_SIZE_IN[0] * columns, PANEL_SIZE_IN[1] * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).flatten()
    for ax, (name, rates) in zip(axes, groups.items(), strict=False):
        ax.hist(rates, bins=HISTOGRAM_BINS, color="C0" if name == ALL else "C1", edgecolor="white")
        ax.set_title(f"{name} ({len(rates)})", fontsize="medium")
        ax.set_xlabel("pass rate")
        ax.set_ylabel("examples")
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    figure.suptitle(f"Pass rates ({column})")
    figure.savefig(path, format="png")


def difficulty_report(
    examples: Sequence[Example], column: str, out_dir: str | Path, category_key: str | None = None
) -> DifficultyReport:
    """Write `difficulty.png` and `difficulty.md` for the pass rates in `metadata[column]`; returns the counts."""
    groups, missing = group_pass_rates(examples, column, category_key)
    if not groups[ALL]:
        raise UserError(f"no example has a pass rate in metadata {column!r} ({len(examples)} examples)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figure, markdown = out / FIGURE_FILE, out / MARKDOWN_FILE
    plot_pass_rates(groups, column, figure)
    parts = [
        f"# Difficulty by pass rate (`{markdown_cell(column)}`)",
        "Buckets: all-false < 1/8 <= hard < 3/8 <= medium < 6/8 <= easy < 1 = all-true.",
        difficulty_table(groups),
    ]
    if missing:
        parts.append(f"{missing} examples have no pass rate in `{markdown_cell(column)}` and are not counted.")
    parts.append(f"![pass rates]({FIGURE_FILE})")
    markdown.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return DifficultyReport(
        column=column,
        overall=bucket_counts(groups[ALL]),
        by_category={name: bucket_counts(rates) for name, rates in groups.items() if name != ALL},
        missing=missing,
        figure=figure,
        markdown=markdown,
    )
