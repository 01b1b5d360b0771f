"""Accuracy tables: overall and per group, from examples and their scored responses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites.base import ScoredSample

Pair = tuple[Example, ScoredSample]


def pair_up(examples: Sequence[Example], scored: Sequence[ScoredSample]) -> list[Pair]:
    """Each scored sample with its example (matched by id), failing loudly on an id that has no example."""
    by_id = {example.id: example for example in examples}
    missing = [sample.id for sample in scored if sample.id not in by_id]
    if missing:
        raise ValueError(f"scored samples without an example: {missing[:5]}")
    return [(by_id[sample.id], sample) for sample in scored]


def percent(fraction: float) -> float:
    """A fraction as a percentage rounded to 2 decimals, as the papers and the other benchmark tables report it."""
    return round(fraction * 100, 2)


def accuracy(scores: Iterable[float]) -> dict[str, Any]:
    """Accuracy in percent, number correct (the sum of the scores) and total of a list of scores in [0, 1]."""
    values = list(scores)
    correct = sum(values)
    return {
        "accuracy": percent(correct / len(values)) if values else 0.0,
        "correct": int(correct) if float(correct).is_integer() else round(correct, 6),
        "total": len(values),
    }


def accuracy_by(pairs: Iterable[Pair], groups: Callable[[Example], Iterable[str]]) -> dict[str, dict[str, Any]]:
    """Accuracy per group, groups in first-seen order; an example may belong to several groups (or none)."""
    scores: dict[str, list[float]] = {}
    for example, sample in pairs:
        for group in groups(example):
            scores.setdefault(group, []).append(sample.score)
    return {group: accuracy(values) for group, values in scores.items()}


def rule_counts(pairs: Iterable[Pair]) -> dict[str, int]:
    """How often each extraction rule fired, so silent fallbacks (random letters, no answer) show in reports."""
    return dict(Counter(sample.rule for _, sample in pairs))
