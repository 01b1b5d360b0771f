"""Read a training run directory: its per-step metrics and its latest logged generations."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rethinker.errors import UserError
from rethinker.jsonl import JsonlError, iter_jsonl

METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
_SAMPLE_FILE = re.compile(r"^step-(\d+)\.jsonl$")


class RunError(UserError):
    """A run directory or one of its files that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Run:
    """One training run: where it lives, how plots name it, and its metric rows in step order."""

    path: Path
    label: str
    rows: tuple[dict[str, Any], ...]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and finite values of metric `key`; rows without it, or with None/NaN/non-numbers, are skipped."""
        steps: list[int] = []
        values: list[float] = []
        for row in self.rows:
            value = finite_number(row.get(key))
            if value is not None:
                steps.append(int(row["step"]))
                values.append(value)
        return steps, values

    def keys(self) -> set[str]:
        """Every metric key that appears in at least one row."""
        return {key for row in self.rows for key in row if key != "step"}


def finite_number(value: object) -> float | None:
    """`value` as a float when it is a finite real number (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank JSONL line; a malformed line is an error naming the file and the line."""
    try:
        yield from iter_jsonl(path)
    except JsonlError as error:
        raise RunError(str(error)) from error


def parse_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a `metrics.jsonl`, by step; a step logged twice (rows of two runs in one file) is an error.

    A resumed run drops the rows after its checkpoint before logging again, so a repeated step means the file mixes an
    abandoned run with a newer one, and a plot of it would be silently wrong.
    """
    by_step: dict[int, dict[str, Any]] = {}
    first_line: dict[int, int] = {}
    for number, row in json_objects(path):
        step = finite_number(row.get("step"))
        if step is None or step != int(step):
            raise RunError(f"{path} line {number}: 'step' must be an integer, got {row.get('step')!r}")
        if int(step) in by_step:
            raise RunError(
                f"{path} line {number}: step {int(step)} was already logged on line {first_line[int(step)]}; the file"
                " mixes rows of two runs: keep one run's rows (or rerun training with resume=true)"
            )
        by_step[int(step)] = {**row, "step": int(step)}
        first_line[int(step)] = number
    return [by_step[step] for step in sorted(by_step)]


def load_run(run_dir: str | Path, label: str | None = None) -> Run:
    """Read a run directory written by `rethinker train`; the label defaults to the directory name."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{path}: run directory not found")
    metrics = path / METRICS_FILE
    if not metrics.is_file():
        raise RunError(f"{metrics}: no metrics file; is {path} a training run directory?")
    rows = parse_metrics(metrics)
    if not rows:
        raise RunError(f"{metrics}: empty run (no metric rows yet)")
    return Run(path=path, label=label or path.resolve().name, rows=tuple(rows))


def latest_samples_file(run_dir: Path) -> Path | None:
    """The `samples/step-N.jsonl` with the largest N, or None when the run logged no generations."""
    found = [
        (int(match.group(1)), file)
        for file in (run_dir / SAMPLES_DIR).glob("step-*.jsonl")
        if (match := _SAMPLE_FILE.match(file.name))
    ]
    return max(found)[1] if found else None


def read_samples(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` generation records of a samples file; a malformed line is an error naming file and line."""
    return [record for _, record in itertools.islice(json_objects(path), max(limit, 0))]
