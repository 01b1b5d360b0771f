"""The record every reward function returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RewardResult:
    """A scored response: the reward, whether its answer is right, what was extracted and by which rule.

    `info` carries details such as the guard that fired (`guard`) or whether the format held (`format_ok`).
    """

    reward: float
    correct: bool
    extracted: str | None
    rule: str
    info: dict[str, Any] = field(default_factory=dict)
