from __future__ import annotations

import math
from collections import Counter

import pytest

from rethinker.data.schema import Example
from rethinker.data.selection import (
    balance,
    difficulty_bucket,
    metadata_value,
    parse_interval,
    pass_rate_bucket,
    select_by_interval,
)


def rated(rates: list[object], category: str = "c") -> list[Example]:
    return [
        Example(id=f"e{i}", question="q", answer="1", metadata={"rate": rate, "category": category})
        for i, rate in enumerate(rates)
    ]


def test_parse_interval_open_and_closed_ends() -> None:
    half_open = parse_interval("(0, 1]")
    assert (0.0 in half_open, 1.0 in half_open, 0.5 in half_open, 1.5 in half_open) == (False, True, True, False)
    closed = parse_interval(" [0.125,0.875) ")
    assert (0.125 in closed, 0.875 in closed) == (True, False)
    assert 1e9 in parse_interval("[0, inf)")
    assert 3.0 in parse_interval("[3, 3]")


@pytest.mark.parametrize("text", ["0, 1", "(1, 0)", "(0.5, 0.5]", "[a, 1]", "(0; 1)", "[nan, 1]"])
def test_parse_interval_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


def test_select_by_interval_counts_each_reason() -> None:
    examples = rated([0.0, 0.125, 0.5, 1.0, None, "high", math.nan, True, 2])
    kept, counts = select_by_interval(examples, "rate", parse_interval("(0, 1)"))
    assert [example.id for example in kept] == ["e1", "e2"]
    assert counts == {"kept": 2, "dropped_below": 1, "dropped_above": 2, "dropped_missing": 4}
    assert sum(counts.values()) - counts["kept"] + len(kept) == len(examples)


def test_difficulty_buckets_follow_group_accuracy_thresholds() -> None:
    rates = [0, 0.1, 1 / 8, 2 / 8, 3 / 8, 5 / 8, 6 / 8, 7 / 8, 1]
    expected = ["all-false", "all-false", "hard", "hard", "medium", "medium", "easy", "easy", "all-true"]
    assert [difficulty_bucket(rate) for rate in rates] == expected


def test_balance_caps_each_bucket_and_is_deterministic_by_seed() -> None:
    examples = rated([0.0] * 10 + [0.25] * 3 + [0.5] * 6 + [None] * 4)
    chosen, counts = balance(examples, pass_rate_bucket("rate"), per_bucket=4, seed=7)
    assert counts == {"all-false": 4, "hard": 3, "medium": 4}
    assert Counter(difficulty_bucket(example.metadata["rate"]) for example in chosen) == counts
    assert len({example.id for example in chosen}) == len(chosen)
    again, _ = balance(examples, pass_rate_bucket("rate"), per_bucket=4, seed=7)
    other, _ = balance(examples, pass_rate_bucket("rate"), per_bucket=4, seed=8)
    assert [example.id for example in again] == [example.id for example in chosen]
    assert [example.id for example in other] != [example.id for example in chosen]


def test_balance_by_metadata_category() -> None:
    examples = rated([0.5] * 5, "geometry") + rated([0.5] * 2, "charts")
    chosen, counts = balance(examples, metadata_value("category"), per_bucket=3, seed=0)
    assert counts == {"charts": 2, "geometry": 3}
    assert len(chosen) == 5
    with pytest.raises(ValueError):
        balance(examples, metadata_value("category"), per_bucket=-1, seed=0)
