"""The rethinking probe's flip bookkeeping: which way each flip went and how far it moved the counted answer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rethinking" / "run.py"
spec = importlib.util.spec_from_file_location("rethinking_run", SCRIPT)
rethinking = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rethinking)


def test_flips_are_counted_by_direction_and_answer_shift() -> None:
    first = ["I count 4 dots. \\boxed{4}", "\\boxed{5}", "\\boxed{6}", "\\boxed{7}", "no answer", "\\boxed{2}"]
    final = ["\\boxed{5}", "\\boxed{6}", "\\boxed{6}", "\\boxed{9}", "\\boxed{3}", "\\boxed{x}"]
    first_right = [False, True, True, False, False, True]
    final_right = [True, False, True, True, True, False]
    shifts = rethinking.flip_shifts(first, final, first_right, final_right)
    assert shifts == {"wrong_to_right": {"+1": 1, "+2": 1, "other": 1}, "right_to_wrong": {"+1": 1, "other": 1}}


def test_integer_answer_reads_counts_only() -> None:
    assert rethinking.integer_answer("So \\boxed{12}") == 12
    assert rethinking.integer_answer("\\boxed{A}") is None
    assert rethinking.integer_answer("\\boxed{" + "9" * 40 + "}") is None, "no unbounded int() on model output"
