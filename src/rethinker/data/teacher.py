"""An imperfect teacher for the synthetic tasks: it miscounts crowded colours by one, so its worked solutions are wrong
on a known, item-correlated share of the data (the cold-start data a supervised model can only imitate), and its
re-checks either correct a slip or vote among fresh counts."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rethinker.data.schema import Example

MiscountDirection = Literal["short", "either"]
RecheckStyle = Literal["fix", "vote"]


@dataclass(frozen=True)
class Teacher:
    """Counts of `miscount_from` dots or more are reported one off with probability `miscount_prob` (0: exact): one
    short, or with `miscount_direction="either"` one short or one over at equal odds. Its re-checks, by
    `recheck_style`: "fix" recounts correctly after a miscount with probability `recheck_fix_prob` (else repeats the
    count); "vote" counts afresh, as error-prone as the first count, and when the two disagree a third count settles
    it (the majority of three, or the last count when all differ)."""

    miscount_from: int = 0
    miscount_prob: float = 0.0
    recheck_fix_prob: float = 0.0
    miscount_direction: MiscountDirection = "short"
    recheck_style: RecheckStyle = "fix"

    @property
    def exact(self) -> bool:
        """Whether this teacher never miscounts."""
        return self.miscount_from <= 0 or self.miscount_prob <= 0.0

    def recheck_fixes(self, rng: random.Random) -> bool:
        """Whether this re-check of a miscounted item recounts correctly (draws from `rng` only when it can)."""
        return self.recheck_fix_prob > 0.0 and rng.random() < self.recheck_fix_prob


EXACT_TEACHER = Teacher()
"""The teacher whose worked solutions are always right."""


def answer_from_counts(family: str, counts: Mapping[str, int], asked: Sequence[str]) -> str:
    """The answer an item of `family` has when the image holds `counts` (ties go to the first option)."""
    if family in ("count", "count_color"):
        return str(counts[asked[0]])
    if family == "sum_count":
        return str(sum(counts[color] for color in asked))
    if family in ("compare", "max_color"):
        best = max(range(len(asked)), key=lambda index: (counts[asked[index]], -index))
        return string.ascii_uppercase[best]
    raise ValueError(f"unknown synthetic family {family!r}")


def perceived_counts(counts: Mapping[str, int], teacher: Teacher, rng: random.Random) -> dict[str, int]:
    """The counts as the teacher sees them: each crowded colour one off (as the teacher errs) with its probability."""
    seen = {}
    for color, count in counts.items():
        miss = count >= teacher.miscount_from and rng.random() < teacher.miscount_prob
        over = miss and teacher.miscount_direction == "either" and rng.random() < 0.5
        seen[color] = count + 1 if over else count - 1 if miss else count
    return seen


def as_taught(example: Example, teacher: Teacher, rng: random.Random) -> Example:
    """The synthetic item as the teacher solves it: its perceived counts and the answer they imply."""
    if teacher.exact:
        return example
    meta = example.metadata
    seen = perceived_counts(meta["counts"], teacher, rng)
    answer = answer_from_counts(meta["family"], seen, meta["asked"])
    return replace(example, answer=answer, metadata={**meta, "counts": seen})
