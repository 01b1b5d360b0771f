"""A plug-in reward paying for one fixed answer whatever the question: a task the tiny model learns in a few updates."""

from __future__ import annotations

from rethinker.rewards.extract import extract_answer

TARGET = "2"


def score(response: str, example: object) -> float:
    """1.0 when the response's final answer (bounded extraction) is exactly `TARGET`, else 0.0."""
    return float(extract_answer(response).answer == TARGET)
