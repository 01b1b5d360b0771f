"""`ssr_released`: the authors' released-code SSR variant, selecting once per episode before it is cut."""

from __future__ import annotations

from typing import ClassVar

import torch

from rethinker.algo.replay import released_buffer, select_ssr_released
from rethinker.train.replay_modes.base import ReplayMode, UpdateBatch, from_selection
from rethinker.train.samples import Sample


class ReleasedSelectiveSampleReplay(ReplayMode):
    """Selects as many samples as the episode has rollouts (see `select_ssr_released`) from a persistent FIFO."""

    name: ClassVar[str] = "ssr_released"

    def episode_batch(self, samples: list[Sample], step: int, generator: torch.Generator) -> UpdateBatch:
        """The episode's selection; the FIFO is made on the first episode, sized by its number of rollouts."""
        if self.buffer is None:
            self.buffer = released_buffer(len(samples))
        correct = [s.correct for s in samples]
        advantages = [s.advantage for s in samples]
        selection = select_ssr_released(
            samples, advantages, correct, self.buffer, generator, step, self.config.released_all_correct_frac
        )
        return from_selection(samples, selection)
