"""Set metrics: equality (plain, case-insensitive, split on commas or lines), Jaccard index, precision, chess moves."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rethinker.eval.suites.megabench.metrics.convert import as_list, as_set
from rethinker.eval.suites.megabench.metrics.strings import as_text

_SQUEEZED_AWAY = str.maketrans("", "", " -\n\t_.")


def overlap_ratio(predicted: Iterable[Any], gold: Iterable[Any], denominator: Callable[[set, set], int]) -> float:
    """|predicted & gold| / denominator(predicted, gold), or 1 when the denominator is 0 (nothing to get wrong)."""
    predicted, gold = set(predicted), set(gold)
    size = denominator(predicted, gold)
    return len(predicted & gold) / size if size else 1.0


def jaccard(predicted: Iterable[Any], gold: Iterable[Any]) -> float:
    """Intersection over union of two sets (1 for two empty sets)."""
    return overlap_ratio(predicted, gold, lambda first, second: len(first | second))


def precision(predicted: Iterable[Any], gold: Iterable[Any]) -> float:
    """Share of the predicted items that are gold items (1 for an empty prediction)."""
    return overlap_ratio(predicted, gold, lambda first, _: len(first))


def set_equality(response: Any, gold: Any) -> float:
    """1 when the two values hold the same set of items."""
    return float(as_set(response) == as_set(gold))


def _upper_set(value: Any) -> set[str] | None:
    items = as_set(value)
    return {item.upper() for item in items} if all(isinstance(item, str) for item in items) else None


def set_equality_case_insensitive(response: Any, gold: Any) -> float:
    """`set_equality` ignoring letter case; items that are not text score 0."""
    response_items, gold_items = _upper_set(response), _upper_set(gold)
    return float(response_items is not None and response_items == gold_items)


def _lower_items(items: Iterable[Any]) -> set[Any]:
    return {item.lower() if isinstance(item, str) else item for item in items}


def str_set_equality_line_break(response: Any, gold: Any) -> float:
    """1 when the texts hold the same set of lines, ignoring case (a written "\\n" counts as a line break)."""
    lines = [as_text(value).replace("\\n", "\n").split("\n") for value in (response, gold)]
    return float(_lower_items(lines[0]) == _lower_items(lines[1]))


def str_set_equality_comma(response: Any, gold: Any) -> float:
    """1 when the texts hold the same set of comma-separated (or literal-list) items, ignoring case."""
    return float(_lower_items(as_set(response)) == _lower_items(as_set(gold)))


def jaccard_index(response: Any, gold: Any) -> float:
    """Jaccard index of the two values' item sets; no response scores 0."""
    return 0.0 if response is None else jaccard(as_set(response), as_set(gold))


def _folded(item: Any) -> Any:
    """An item lower-cased; a tuple's parts also lose spaces, hyphens, underscores, dots, tabs and line breaks."""
    if isinstance(item, tuple):
        return tuple(as_text(part).lower().translate(_SQUEEZED_AWAY) for part in item)
    return as_text(item).lower()


def jaccard_index_case_insensitive(response: Any, gold: Any) -> float:
    """Jaccard index of the case-folded item sets (see `_folded`); no response scores 0."""
    if response is None:
        return 0.0
    return jaccard({_folded(item) for item in as_set(response)}, {_folded(item) for item in as_set(gold)})


def set_precision(response: Any, gold: Any) -> float:
    """Share of the response's items that are gold items; no response scores 0."""
    return 0.0 if response is None else precision(as_set(response), as_set(gold))


def chess_moves(value: Any) -> set[str]:
    """Chess moves in algebraic notation as a set, without the "!" and "#" marks that need not be written."""
    return {as_text(move).removesuffix("!").removesuffix("#") for move in as_list(value)}


def chess_move_list_jaccard_index(response: Any, gold: Any) -> float:
    """Jaccard index of the two move sets, ignoring "!" and "#" marks; no response scores 0."""
    return 0.0 if response is None else jaccard(chess_moves(response), chess_moves(gold))
