"""List metrics: sequence equality (plain, case-insensitive), per-position accuracy, longest common prefix ratio."""

from __future__ import annotations

from typing import Any

from rethinker.eval.suites.megabench.metrics.convert import aligned_mean, as_list, is_number
from rethinker.eval.suites.megabench.metrics.strings import as_text


def sequence_equality(response: Any, gold: Any) -> float:
    """1 when the two values hold the same items in the same order."""
    return float(as_list(as_text(response)) == as_list(gold))


def _lowered(items: list[Any]) -> list[str]:
    return [as_text(item).lower() for item in items]


def sequence_equality_case_insensitive(response: Any, gold: Any) -> float:
    """`sequence_equality` ignoring letter case."""
    return float(_lowered(as_list(as_text(response))) == _lowered(as_list(gold)))


def _same_item(predicted: Any, gold: Any) -> bool:
    if isinstance(gold, str):
        return isinstance(predicted, str) and predicted.lower() == gold.lower()
    return is_number(gold) and is_number(predicted) and predicted == gold


def sequence_accuracy_case_insensitive(response: Any, gold: Any) -> float:
    """Share of positions whose items agree (text ignoring case, numbers exactly); 0 when the lengths differ."""
    return aligned_mean(as_list(response), as_list(gold), _same_item)


def longest_common_list_prefix_ratio(response: Any, gold: Any) -> float:
    """Length of the longest common prefix of the two lists over the gold list's length."""
    predicted, expected = as_list(response), as_list(gold)
    if not expected:
        return float(not predicted)
    prefix = 0
    for item, target in zip(predicted, expected, strict=False):
        if item != target:
            break
        prefix += 1
    return prefix / len(expected)
