from __future__ import annotations

from rethinker.curation.selection import select_training_set
from rethinker.data.schema import Example

RATES = [0.0, 0.125, 0.25, 0.5, 0.5, 0.875, 1.0, None]


def examples() -> list[Example]:
    return [
        Example(id=f"q{i}", question="?", answer="1", metadata={"PassRate_m": rate, "category": "ab"[i % 2]})
        for i, rate in enumerate(RATES)
    ]


def test_interval_rule_counts_kept_and_dropped() -> None:
    kept, counts = select_training_set(examples(), "PassRate_m", "(0, 1)")
    assert [e.id for e in kept] == ["q1", "q2", "q3", "q4", "q5"]
    assert counts == {
        "data/selection_kept": 5.0,
        "data/selection_dropped_below": 1.0,
        "data/selection_dropped_above": 1.0,
        "data/selection_dropped_missing": 1.0,
    }


def test_balance_by_difficulty_caps_each_bucket() -> None:
    kept, counts = select_training_set(examples(), "PassRate_m", "(0, 1)", "difficulty", per_bucket=1, seed=3)
    assert counts["data/balance_hard"] == 1.0
    assert counts["data/balance_medium"] == 1.0
    assert counts["data/balance_easy"] == 1.0
    assert counts["data/balance_dropped"] == 2.0
    assert len(kept) == 3
    assert {e.id for e in kept} & {"q3", "q4"}


def test_balance_by_category_uses_metadata() -> None:
    kept, counts = select_training_set(examples(), "PassRate_m", "[0, 1]", "category", per_bucket=2, seed=0)
    assert counts["data/balance_a"] == 2.0 and counts["data/balance_b"] == 2.0
    assert sorted(e.metadata["category"] for e in kept) == ["a", "a", "b", "b"]
    assert counts["data/balance_dropped"] == 3.0
