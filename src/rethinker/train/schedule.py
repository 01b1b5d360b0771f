"""PTST (progressive thinking suppression training): which stage of the schedule an update belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from rethinker.config import Stage


def stage_at(stages: Sequence[Stage], step: int) -> int:
    """Index of the stage that update number `step` (0-based) belongs to; the last stage extends past its end."""
    if not stages:
        raise ValueError("the schedule has no stages")
    end = 0
    for index, stage in enumerate(stages):
        end += stage.steps
        if step < end:
            return index
    return len(stages) - 1
