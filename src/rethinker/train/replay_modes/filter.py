"""`filter`: train only on the samples with a non-zero advantage."""

from __future__ import annotations

from typing import ClassVar

from rethinker.algo.replay import select_filter
from rethinker.train.replay_modes.base import ReplayMode, UpdateBatch, from_selection


class FilterReplay(ReplayMode):
    """Drops each update batch's zero-advantage samples; nothing is replayed."""

    name: ClassVar[str] = "filter"

    def select(self, raw: UpdateBatch, step: int) -> UpdateBatch:
        """The raw batch's effective samples (|A| > 0)."""
        return from_selection(raw.samples, select_filter([s.advantage for s in raw.samples]))
