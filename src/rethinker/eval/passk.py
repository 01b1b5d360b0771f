"""pass@k and maj@k over several sampled responses per problem: pure functions over scores and extracted answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb
from typing import Any

Attempt = tuple[str | None, float]
"""One sampled response as (extracted answer, score); a score above 0 counts as correct."""


def pass_at_k(n: int, correct: int, k: int) -> float:
    """Unbiased chance that at least one of k responses drawn from n (of which `correct` are right) is right."""
    if not 0 < k <= n or not 0 <= correct <= n:
        raise ValueError(f"need 0 < k <= n and 0 <= correct <= n, got n={n}, correct={correct}, k={k}")
    if n - correct < k:
        return 1.0
    return 1.0 - comb(n - correct, k) / comb(n, k)


def majority_index(answers: Sequence[str | None]) -> int | None:
    """The first response giving the most frequent non-empty answer (ties go to the earliest); None if none answers.

    Answers are compared as stripped strings, so two spellings of one value ("0.5", "1/2") count as different votes.
    """
    votes = [answer.strip() if answer else "" for answer in answers]
    counts = Counter(vote for vote in votes if vote)
    if not counts:
        return None
    top = max(counts.values())
    return next(index for index, vote in enumerate(votes) if vote and counts[vote] == top)


def maj_correct(attempts: Sequence[Attempt]) -> bool:
    """Whether the majority answer of one problem's responses is right (no answer at all is wrong)."""
    winner = majority_index([answer for answer, _ in attempts])
    return winner is not None and attempts[winner][1] > 0


def report_ks(samples: int) -> list[int]:
    """The k reported for `samples` responses per problem: 1, the powers of two below it, and itself."""
    return sorted({1, samples, *(2**power for power in range(samples.bit_length()) if 2**power < samples)})


def _row(value: float, total: int) -> dict[str, Any]:
    """One results row: accuracy in percent (2 decimals) over `total` problems."""
    return {"accuracy": round(value / total * 100, 2) if total else 0.0, "total": total}


def sampling_rows(problems: Sequence[Sequence[Attempt]], samples: int) -> dict[str, dict[str, Any]]:
    """pass@k rows for each reported k and the maj@`samples` row, averaged over problems.

    A problem with fewer than `samples` responses (e.g. skipped for an over-long prompt) counts its missing ones as
    wrong and unanswered.
    """
    padded = [list(attempts) + [(None, 0.0)] * (samples - len(attempts)) for attempts in problems]
    rows = {
        f"pass@{k}": _row(sum(pass_at_k(samples, sum(s > 0 for _, s in a), k) for a in padded), len(padded))
        for k in report_ks(samples)
    }
    rows[f"maj@{samples}"] = _row(sum(maj_correct(attempts) for attempts in padded), len(padded))
    return rows
