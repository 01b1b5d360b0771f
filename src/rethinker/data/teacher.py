"""An imperfect teacher for the synthetic tasks: it undercounts crowded colours, so its worked solutions are wrong on
a known, item-correlated share of the data (the cold-start data a supervised model can only imitate)."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rethinker.data.schema import Example


@dataclass(frozen=True)
class Teacher:
    """Counts of `miscount_from` dots or more are reported one short with probability `miscount_prob` (0: exact); a
    re-check after a miscount recounts correctly with probability `recheck_fix_prob` (else it repeats the count)."""

    miscount_from: int = 0
    miscount_prob: float = 0.0
    recheck_fix_prob: float = 0.0

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
    """The counts as the teacher sees them: each crowded colour one short with the teacher's probability."""
    seen = {}
    for color, count in counts.items():
        miss = count >= teacher.miscount_from and rng.random() < teacher.miscount_prob
        seen[color] = count - 1 if miss else count
    return seen


def as_taught(example: Example, teacher: Teacher, rng: random.Random) -> Example:
    """The synthetic item as the teacher solves it: its perceived counts and the answer they imply."""
    if teacher.exact:
        return example
    meta = example.metadata
    seen = perceived_counts(meta["counts"], teacher, rng)
    answer = answer_from_counts(meta["family"], seen, meta["asked"])
    return replace(example, answer=answer, metadata={**meta, "counts": seen})
