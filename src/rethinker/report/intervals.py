"""Confidence intervals over seeds: the mean of a few runs with its Student-t 95% half-width, and paired differences."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131)
"""Two-sided 95% Student-t critical values for 1..15 degrees of freedom."""
Z_975 = 1.96


def t_critical(dof: int) -> float:
    """The two-sided 95% Student-t critical value for `dof` degrees of freedom (the normal one past the table)."""
    if dof < 1:
        raise ValueError(f"a confidence interval needs at least 1 degree of freedom, got {dof}")
    return T_975[dof - 1] if dof <= len(T_975) else Z_975


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of its 95% confidence interval) of independent runs; half-width NaN for a single run."""
    if not values:
        raise ValueError("a mean needs at least one value")
    if any(not math.isfinite(value) for value in values):
        raise ValueError(f"non-finite value among {list(values)}")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return mean, math.nan
    return mean, t_critical(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def paired_differences(treated: Sequence[float], control: Sequence[float]) -> list[float]:
    """Per-seed differences treated - control of runs paired by seed."""
    if len(treated) != len(control):
        raise ValueError(f"paired runs need equal counts, got {len(treated)} and {len(control)}")
    return [a - b for a, b in zip(treated, control, strict=True)]


def format_ci(values: Sequence[float], digits: int = 3) -> str:
    """'mean ± half-width' of `values` (just the mean for a single run)."""
    mean, half = mean_ci95(values)
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"
