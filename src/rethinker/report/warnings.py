"""Warnings a report puts first: a run that learnt nothing because no group ever had different rewards."""

from __future__ import annotations

from rethinker.report.metrics import Run, finite_number
from rethinker.telemetry import NO_SIGNAL_WARN_STEPS, no_signal_warning


def longest_flat_streak(run: Run) -> tuple[int, int | None, bool]:
    """(length, last step, all rewards 0) of the longest run of steps whose `groups/effective_frac` is 0."""
    best, best_end, best_zero = 0, None, False
    streak, zero = 0, True
    for row in run.rows:
        effective = finite_number(row.get("groups/effective_frac"))
        if effective is None:
            continue
        if effective != 0.0:
            streak, zero = 0, True
            continue
        streak += 1
        zero = zero and finite_number(row.get("reward/mean")) == 0.0
        if streak > best:
            best, best_end, best_zero = streak, int(row["step"]), zero
    return best, best_end, best_zero


def run_warnings(run: Run) -> list[str]:
    """The warnings of one run (none for a healthy run), each one line of text."""
    streak, end, all_zero = longest_flat_streak(run)
    if streak < NO_SIGNAL_WARN_STEPS:
        return []
    text = no_signal_warning(streak, 0.0 if all_zero else float("nan"))
    return [f"{text} (steps {end - streak + 1}-{end})" if end is not None else text]
