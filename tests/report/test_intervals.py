from __future__ import annotations

import math

import pytest

from rethinker.report.intervals import format_ci, mean_ci95, paired_differences, t_critical


def test_mean_ci95_of_hand_computed_runs() -> None:
    mean, half = mean_ci95([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(4.303 * 0.1 / math.sqrt(3))
    assert mean_ci95([0.4, 0.4, 0.4, 0.4, 0.4]) == (pytest.approx(0.4), 0.0)


def test_single_run_has_no_interval_and_bad_values_are_refused() -> None:
    mean, half = mean_ci95([0.3])
    assert mean == 0.3 and math.isnan(half)
    assert format_ci([0.3]) == "0.300"
    with pytest.raises(ValueError):
        mean_ci95([])
    with pytest.raises(ValueError):
        mean_ci95([0.1, math.nan])


def test_t_critical_shrinks_towards_the_normal_value() -> None:
    assert t_critical(1) == 12.706 and t_critical(4) == 2.776 and t_critical(100) == 1.96
    with pytest.raises(ValueError):
        t_critical(0)


def test_paired_differences_and_format() -> None:
    assert paired_differences([0.8, 0.7], [0.5, 0.75]) == pytest.approx([0.3, -0.05])
    with pytest.raises(ValueError):
        paired_differences([0.1], [0.1, 0.2])
    assert format_ci([0.5, 0.6, 0.7], digits=2) == "0.60 ± 0.25"
