"""A deterministic plug-in reward with spread inside groups, so tests see non-zero advantages from a random model."""

from __future__ import annotations


def score(response: str, example: object) -> float:
    """1.0 when the response has an odd number of characters, else 0.0."""
    return float(len(response) % 2)


def constant(response: str, example: object) -> float:
    """The same reward for every response: every group has zero advantage."""
    return 1.0


def saturated_except_counting(response: str, example: object) -> float:
    """Parity on the `count` family, 1.0 elsewhere: most groups are all-correct, as on a saturated task."""
    return score(response, example) if example.metadata["family"] == "count" else 1.0
