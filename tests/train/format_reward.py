"""Plug-in rewards that, like HFRRF, let the format decide the reward where the answers' correctness does not."""

from __future__ import annotations


def format_decides(response: str, example: object) -> dict:
    """Every answer counts as correct; the reward is 1 only for an odd-length ("well-formatted") response."""
    return {"reward": float(len(response) % 2), "correct": True}


def unformatted(response: str, example: object) -> dict:
    """Correctness varies (odd length), but no response is well formatted, so every reward is 0."""
    return {"reward": 0.0, "correct": bool(len(response) % 2)}
