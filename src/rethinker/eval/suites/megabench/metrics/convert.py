"""Reading a model's field value as a Python value, list, set, dict, boxes or point, safely and within size bounds.

Model output is never evaluated: only `ast.literal_eval` (literals only) on text of at most `MAX_LITERAL_CHARS`.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable, Sequence
from numbers import Number
from typing import Any

from rethinker.eval.suites._source import MAX_LITERAL_CHARS

NOT_A_LITERAL = object()
"""What `literal` returns for text that is not a (small enough) Python literal."""

_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_POINT = re.compile(r"<point>(.*?)</point>", re.DOTALL)
_BOX = re.compile(r"<box>(.*?)</box>", re.DOTALL)


def literal(text: Any) -> Any:
    """The Python literal written in `text`, or `NOT_A_LITERAL` (too long, not a literal, or too deeply nested).

    Python's warnings about odd literals in model output (such as "1a") are silenced: they are expected, not news.
    """
    if not isinstance(text, str) or len(text) > MAX_LITERAL_CHARS:
        return NOT_A_LITERAL
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOT_A_LITERAL


def unquote(value: Any) -> Any:
    """A string that is itself a quoted string literal ("'cat'") unwrapped once; anything else unchanged."""
    parsed = literal(value)
    return parsed if isinstance(value, str) and isinstance(parsed, str) else value


def hashable(value: Any) -> Any:
    """A nested value made hashable: dicts become frozensets of items, lists and tuples tuples, sets frozensets."""
    if isinstance(value, dict):
        return frozenset((key, hashable(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return tuple(hashable(item) for item in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def as_items(value: Any) -> list[Any] | None:
    """The items of a collection or of its text ("[a, b]", "(1, 2)", "a, b", "3"); None for a non-string non-list.

    Text that is a literal collection gives its items (a single number gives one item); other text (a bare word, a
    string, True/None) is split on commas after dropping one pair of matching outer brackets; empty text gives no items.
    """
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if not isinstance(value, str):
        return None
    text = value.strip(" ")
    if not text:
        return []
    closing = _BRACKETS.get(text[0])
    if closing is not None and not text.endswith(closing):
        return []
    parsed = literal(text)
    if isinstance(parsed, Number) and not isinstance(parsed, bool):
        return [parsed]
    if isinstance(parsed, list | tuple | set | frozenset | dict):
        return list(parsed)
    inner = text[1:-1] if closing is not None else text
    return [item.strip() for item in inner.split(",")]


def as_list(value: Any) -> list[Any]:
    """A field value as a list (see `as_items`); values that are neither text nor collections give an empty list."""
    return as_items(value) or []


def as_set(value: Any) -> set[Any]:
    """A field value as a set of hashable items (nested lists become tuples, dicts frozensets)."""
    if isinstance(value, list | tuple | set | frozenset | dict):
        return set(hashable(list(value) if isinstance(value, dict) else value))
    return {hashable(item) for item in as_list(value)}


def is_number(value: Any) -> bool:
    """Whether `value` is a finite real number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def as_boxes(value: Any) -> list[tuple[float, ...]]:
    """Boxes (x1, y1, x2, y2) from a list of 4-number lists (or one such list), given as text or value.

    Entries that are not four finite numbers are dropped; unreadable text gives no boxes.
    """
    parsed = literal(value) if isinstance(value, str) else value
    if not isinstance(parsed, list | tuple):
        return []
    if len(parsed) == 4 and all(is_number(coordinate) for coordinate in parsed):
        parsed = [parsed]
    return [
        tuple(float(coordinate) for coordinate in box)
        for box in parsed
        if isinstance(box, list | tuple) and len(box) == 4 and all(is_number(coordinate) for coordinate in box)
    ]


def _numbers(text: str, count: int) -> tuple[float, ...] | None:
    parts = text.split(",")
    if len(parts) != count:
        return None
    try:
        numbers = tuple(float(part.strip()) for part in parts)
    except ValueError:
        return None
    return numbers if all(math.isfinite(number) for number in numbers) else None


def xml_boxes(value: Any) -> list[tuple[float, ...]]:
    """Every well-formed `<box>x1, y1, x2, y2</box>` in the text, in order."""
    if not isinstance(value, str):
        return []
    found = (_numbers(match, 4) for match in _BOX.findall(value[:MAX_LITERAL_CHARS]))
    return [box for box in found if box is not None]


def xml_point(value: Any) -> tuple[float, ...] | None:
    """The one `<point>x, y</point>` in the text, or None when there is none, several, or it is malformed."""
    if not isinstance(value, str):
        return None
    matches = _POINT.findall(value[:MAX_LITERAL_CHARS])
    return _numbers(matches[0], 2) if len(matches) == 1 else None


def aligned_mean(predicted: Sequence[Any], expected: Sequence[Any], score: Callable[[Any, Any], float]) -> float:
    """Mean of `score` over the items paired by position; 0 when the lengths differ or there is no gold item."""
    if len(predicted) != len(expected) or not expected:
        return 0.0
    return sum(score(item, target) for item, target in zip(predicted, expected, strict=True)) / len(expected)
