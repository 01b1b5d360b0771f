"""Number metrics: relative difference, positive integer match, normalized RMSE, angle-sequence RMSE, 1 % match."""

from __future__ import annotations

import math
from typing import Any

from rethinker.eval.suites._answer import parse_number
from rethinker.eval.suites._text import last_boxed
from rethinker.eval.suites.megabench.metrics.convert import NOT_A_LITERAL, as_list, is_number, literal
from rethinker.eval.suites.megabench.metrics.strings import as_text

NOT_APPLICABLE = -1.0
"""A field score that the query aggregation leaves out (the official convention for "not applicable")."""
RMSE_CEILING = 0.1
ANGLE_RMSE_CEILING = 10.0
RELATIVE_TOLERANCE = 0.01


def number_value(value: Any) -> float | None:
    """A finite number given as a number or as a Python number literal ("3", "-2.5", "1e3"), else None."""
    parsed = value if is_number(value) else literal(value)
    return float(parsed) if is_number(parsed) else None


def number_rel_diff_ratio(response: Any, gold: Any) -> float:
    """max(0, 1 - |prediction - gold| / |gold|); 0 when either is not a number or the gold is 0."""
    predicted, expected = number_value(response), number_value(gold)
    if predicted is None or not expected:
        return 0.0
    return max(0.0, 1 - abs((predicted - expected) / expected))


def positive_int_match(response: Any, gold: Any) -> float:
    """1 for the same integer; not applicable (-1) when both are zero or negative; 0 otherwise."""
    predicted, expected = literal(as_text(response)), literal(as_text(gold))
    if not isinstance(expected, int) or not isinstance(predicted, int) or isinstance(predicted, bool):
        return 0.0
    if expected <= 0 and predicted <= 0:
        return NOT_APPLICABLE
    return float(predicted == expected)


def clipped_error_score(error: float, ceiling: float) -> float:
    """1 - error / ceiling, with the error clipped to [0, ceiling] (so 1 at no error, 0 at or beyond the ceiling)."""
    return 1 - min(max(error, 0.0), ceiling) / ceiling


def normalized_rmse(response: Any, gold: Any) -> float:
    """The absolute error of one number, scored by `clipped_error_score` with a 0.1 ceiling."""
    predicted, expected = number_value(response), number_value(gold)
    if predicted is None or expected is None:
        return 0.0
    return clipped_error_score(abs(predicted - expected), RMSE_CEILING)


def angle_seq_float_rmse(response: Any, gold: Any) -> float:
    """The mean absolute error of two equally long number lists, scored with a 10 (degree) ceiling."""
    predicted, expected = as_list(response), as_list(gold)
    if len(predicted) != len(expected) or not expected:
        return 0.0
    if not all(is_number(item) for item in [*predicted, *expected]):
        return 0.0
    error = sum(abs(item - target) for item, target in zip(predicted, expected, strict=True)) / len(expected)
    return clipped_error_score(error, ANGLE_RMSE_CEILING) if math.isfinite(error) else 0.0


def _plain_number(text: str) -> float | None:
    """A number written plainly, as a percentage, with a currency sign or degrees, or as a simple fraction a/b."""
    cleaned = text.strip().strip("$").replace("\\%", "%").replace("¥", "").replace("°C", "").replace("°", "")
    cleaned = cleaned.replace("\\dfrac", "\\frac")
    if cleaned.startswith("\\frac{") and cleaned.endswith("}") and "}{" in cleaned:
        cleaned = "/".join(cleaned.removeprefix("\\frac{").removesuffix("}").split("}{", 1))
    if cleaned.count("/") == 1:
        numerator, denominator = (parse_number(part) for part in cleaned.split("/"))
        return numerator / denominator if numerator is not None and denominator else None
    value = parse_number(cleaned)
    return value / 100 if value is not None and cleaned.endswith("%") else value


def within_one_percent(predicted: float, expected: float) -> bool:
    """Whether `predicted` lies within 1 % of `expected` (inclusive)."""
    return abs(predicted - expected) <= abs(expected) * RELATIVE_TOLERANCE


def _numbers_match(response: Any, gold: Any) -> float:
    expected = number_value(gold)
    if expected is None:
        expected = _plain_number(as_text(gold))
    predicted = response if is_number(response) else _plain_number(as_text(response))
    if expected is None:
        expected_list = literal(as_text(gold))
        predicted_list = literal(as_text(response))
        if isinstance(expected_list, list) and predicted_list is not NOT_A_LITERAL:
            return float(_lists_within_one_percent(predicted_list, expected_list))
        return 0.0
    return float(predicted is not None and within_one_percent(float(predicted), expected))


def _lists_within_one_percent(predicted: Any, expected: list[Any]) -> bool:
    if not isinstance(predicted, list) or len(predicted) != len(expected):
        return False
    if not all(is_number(item) for item in [*predicted, *expected]):
        return False
    pairs = zip(sorted(predicted), sorted(expected), strict=True)
    return all(within_one_percent(item, target) for item, target in pairs)


def general_single_numerical_match(response: Any, gold: Any) -> float:
    """1 when the response's number (plain, %, currency, degrees or a simple fraction) is within 1 % of the gold;
    a gold list of numbers needs the same numbers in any order."""
    return _numbers_match(response, gold)


def boxed_single_numerical_match(response: Any, gold: Any) -> float:
    """`general_single_numerical_match` on the content of the response's last \\boxed{} (or the whole response)."""
    text = as_text(response)
    boxed = last_boxed(text)
    return _numbers_match(boxed if boxed is not None else text, gold)
