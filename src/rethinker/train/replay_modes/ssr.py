"""`ssr`: the paper's Selective Sample Replay (Algorithm 1) on each update batch."""

from __future__ import annotations

from typing import ClassVar

from rethinker.algo.replay import ReplayBuffer, select_ssr
from rethinker.train.replay_modes.base import ReplayMode, UpdateBatch, from_selection
from rethinker.train.samples import Sample


class SelectiveSampleReplay(ReplayMode):
    """Keeps each raw batch's effective samples and fills the rest from a buffer drawn by priority |A|^alpha."""

    name: ClassVar[str] = "ssr"

    def new_buffer(self) -> ReplayBuffer[Sample]:
        """A buffer of the configured lifetime and capacity."""
        return ReplayBuffer(self.config.lifetime, self.config.capacity)

    def select(self, raw: UpdateBatch, step: int) -> UpdateBatch:
        """The raw batch's effective samples, topped up to the batch size from the buffer."""
        advantages = [s.advantage for s in raw.samples]
        target = self.batch_size or len(raw.samples)
        selection = select_ssr(
            raw.samples, advantages, target, self.buffer, self.config.alpha, self.generator(step), step
        )
        return from_selection(raw.samples, selection)
