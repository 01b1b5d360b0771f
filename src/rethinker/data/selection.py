"""Curation: keep examples whose pass rate lies in an interval, and balance them by difficulty or category."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from rethinker.data.schema import Example
from rethinker.errors import UserError

_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*$")

DIFFICULTY_BUCKETS = ("all-false", "hard", "medium", "easy", "all-true")
"""Difficulty by pass rate (SPEC section 3): < 1/8, < 3/8, < 6/8, < 1, and exactly 1."""


@dataclass(frozen=True)
class Interval:
    """A real interval whose ends are each open or closed."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    def below(self, value: float) -> bool:
        """Whether `value` lies left of the interval."""
        return value < self.low or (value == self.low and not self.low_closed)

    def above(self, value: float) -> bool:
        """Whether `value` lies right of the interval."""
        return value > self.high or (value == self.high and not self.high_closed)

    def __contains__(self, value: float) -> bool:
        return not self.below(value) and not self.above(value)


def parse_interval(text: str) -> Interval:
    """Parse interval notation such as "(0, 1]" or "[0.125, 0.875)"; `inf` and `-inf` are allowed as ends."""
    match = _INTERVAL.match(text)
    if match is None:
        raise UserError(f"not an interval: {text!r}; write e.g. '(0, 1]' or '[0.25, 0.75)'")
    opening, low_text, high_text, closing = match.groups()
    try:
        low, high = float(low_text), float(high_text)
    except ValueError as error:
        raise UserError(f"interval ends must be numbers: {text!r}") from error
    interval = Interval(low=low, high=high, low_closed=opening == "[", high_closed=closing == "]")
    degenerate = low == high and not (interval.low_closed and interval.high_closed)
    if math.isnan(low) or math.isnan(high) or low > high or degenerate:
        raise UserError(f"empty interval: {text!r}; the low end must lie below the high end")
    return interval


def _number(value: object) -> float | None:
    """A finite-or-infinite real number, or None for missing, non-numeric or NaN values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def select_by_interval(
    examples: Sequence[Example], column: str, interval: Interval
) -> tuple[list[Example], dict[str, int]]:
    """Keep examples whose `metadata[column]` lies in `interval`; count the kept and why the others were dropped."""
    kept: list[Example] = []
    counts = {"kept": 0, "dropped_below": 0, "dropped_above": 0, "dropped_missing": 0}
    for example in examples:
        value = _number(example.metadata.get(column))
        if value is None:
            counts["dropped_missing"] += 1
        elif interval.below(value):
            counts["dropped_below"] += 1
        elif interval.above(value):
            counts["dropped_above"] += 1
        else:
            kept.append(example)
            counts["kept"] += 1
    return kept, counts


def difficulty_bucket(pass_rate: float) -> str:
    """The difficulty bucket of a pass rate in [0, 1] (SPEC section 3)."""
    if pass_rate >= 1:
        return "all-true"
    if pass_rate >= 6 / 8:
        return "easy"
    if pass_rate >= 3 / 8:
        return "medium"
    return "hard" if pass_rate >= 1 / 8 else "all-false"


def pass_rate_bucket(column: str) -> Callable[[Example], str | None]:
    """A key function: the difficulty bucket of `metadata[column]`, None when the value is missing."""

    def key(example: Example) -> str | None:
        value = _number(example.metadata.get(column))
        return None if value is None else difficulty_bucket(value)

    return key


def metadata_value(name: str) -> Callable[[Example], Hashable | None]:
    """A key function: `metadata[name]`, e.g. a category."""

    def key(example: Example) -> Hashable | None:
        value = example.metadata.get(name)
        return value if isinstance(value, Hashable) else None

    return key


def balance(
    examples: Sequence[Example], key_fn: Callable[[Example], Hashable | None], per_bucket: int, seed: int
) -> tuple[list[Example], dict[str, int]]:
    """Draw up to `per_bucket` examples from each bucket of `key_fn` (None keys are dropped), shuffled by `seed`.

    Returns the selection and how many were kept per bucket.
    """
    if per_bucket < 0:
        raise ValueError(f"per_bucket must be >= 0, got {per_bucket}")
    buckets: dict[Hashable, list[Example]] = {}
    for example in examples:
        key = key_fn(example)
        if key is not None:
            buckets.setdefault(key, []).append(example)
    rng = random.Random(seed)
    selected: list[Example] = []
    counts: dict[str, int] = {}
    for key in sorted(buckets, key=str):
        members = buckets[key]
        chosen = rng.sample(members, min(per_bucket, len(members)))
        selected.extend(chosen)
        counts[str(key)] = len(chosen)
    rng.shuffle(selected)
    return selected, counts
