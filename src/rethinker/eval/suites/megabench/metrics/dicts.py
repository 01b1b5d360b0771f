"""Dictionary metrics: a per-key metric averaged over the gold keys (recall) or over all keys of both (Jaccard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rethinker.eval.suites.megabench.metrics.boxes import nbbox_iou_tuple
from rethinker.eval.suites.megabench.metrics.convert import literal
from rethinker.eval.suites.megabench.metrics.sets import jaccard_index, set_equality
from rethinker.eval.suites.megabench.metrics.strings import exact_str_match
from rethinker.eval.suites.megabench.parsing import parse_json

Metric = Callable[[Any, Any], float]


def as_dict(value: Any) -> dict[Any, Any] | None:
    """A dict given as a dict or as its JSON/Python text (nested JSON strings decoded), else None."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        parsed = literal(value)
        if not isinstance(parsed, dict):
            parsed = parse_json(value)
        return parsed if isinstance(parsed, dict) and parsed else None
    return None


def mean_over_gold_keys(response: Any, gold: Any, metric: Metric) -> float:
    """Mean of `metric` over the gold keys (a key missing from the response is compared as None)."""
    predicted, expected = as_dict(response), as_dict(gold)
    if predicted is None or not expected:
        return 0.0
    return sum(metric(predicted.get(key), value) for key, value in expected.items()) / len(expected)


def mean_over_all_keys(response: Any, gold: Any, metric: Metric) -> float:
    """Mean of `metric` over the union of keys (a key missing on one side is compared as an empty list)."""
    predicted, expected = as_dict(response), as_dict(gold)
    if predicted is None or expected is None:
        return 0.0
    keys = set(predicted) | set(expected)
    if not keys:
        return 0.0
    return sum(metric(predicted.get(key, []), expected.get(key, [])) for key in keys) / len(keys)


def dict_exact_str_match_agg_recall(response: Any, gold: Any) -> float:
    """Share of gold keys whose response value matches exactly (`exact_str_match`)."""
    return mean_over_gold_keys(response, gold, exact_str_match)


def dict_set_equality_agg_jaccard(response: Any, gold: Any) -> float:
    """Set equality per key, averaged over the union of keys."""
    return mean_over_all_keys(response, gold, set_equality)


def dict_jaccard_agg_jaccard(response: Any, gold: Any) -> float:
    """Jaccard index per key, averaged over the union of keys."""
    return mean_over_all_keys(response, gold, jaccard_index)


def dict_nbbox_iou_tuple_agg_jaccard(response: Any, gold: Any) -> float:
    """Best-match box IoU per key, averaged over the union of keys."""
    return mean_over_all_keys(response, gold, nbbox_iou_tuple)


def dict_equality(response: Any, gold: Any) -> float:
    """1 when the response is the same dict as the gold."""
    predicted = as_dict(response)
    return float(predicted is not None and predicted == as_dict(gold))


def dict_precision(response: Any, gold: Any) -> float:
    """Share of the response's keys that are gold keys with an exactly matching value."""
    predicted, expected = as_dict(response), as_dict(gold) or {}
    if not predicted:
        return 0.0
    return sum(key in expected and exact_str_match(value, expected[key]) for key, value in predicted.items()) / len(
        predicted
    )
