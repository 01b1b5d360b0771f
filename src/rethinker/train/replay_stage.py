"""Turns an episode's samples into update batches under the configured replay mode, and proves it acted in metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from rethinker.algo.replay import (
    ReplayBuffer,
    Selection,
    released_buffer,
    select_filter,
    select_ssr,
    select_ssr_released,
)
from rethinker.config import ReplayConfig
from rethinker.train.samples import Sample


@dataclass
class UpdateBatch:
    """The samples of one update, and which of them were drawn from the replay buffer."""

    samples: list[Sample]
    replayed: list[bool] = field(default_factory=list)


def batch_metrics(batch: UpdateBatch, step: int) -> dict[str, float]:
    """`batch/effective_frac`, `batch/replay_frac` and `replay/age_mean` (updates since a replayed sample was made)."""
    n = max(len(batch.samples), 1)
    ages = [step - s.born_step for s, replayed in zip(batch.samples, batch.replayed, strict=True) if replayed]
    return {
        "batch/effective_frac": sum(s.advantage != 0 for s in batch.samples) / n,
        "batch/replay_frac": sum(batch.replayed) / n,
        "replay/age_mean": sum(ages) / len(ages) if ages else 0.0,
    }


def _from_selection(raw: list[Sample], selection: Selection[Sample]) -> UpdateBatch:
    samples = [raw[i] for i in selection.current] + [item for item, _ in selection.replayed]
    return UpdateBatch(samples, [False] * len(selection.current) + [True] * len(selection.replayed))


class ReplayStage:
    """Splits episodes into raw batches and selects each update batch: none, filter, dapo, ssr or ssr_released.

    `ssr` applies the paper's Algorithm 1 to each raw batch of `batch_size` samples; `ssr_released` selects once per
    episode (as many samples as it has rollouts, see `select_ssr_released`) and then splits; `dapo` filters at
    rollout time, so its batches pass through unchanged.
    """

    def __init__(self, config: ReplayConfig, batch_size: int, seed: int) -> None:
        self.config = config
        self.batch_size = batch_size
        self.seed = seed
        self.buffer: ReplayBuffer[Sample] | None = None
        if config.mode == "ssr":
            self.buffer = ReplayBuffer(config.lifetime, config.capacity)

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 104_729 + step)

    def split(self, samples: list[Sample], step: int) -> list[UpdateBatch]:
        """Start an episode: empty an episode-lifetime buffer, shuffle, and cut the samples into update batches.

        An episode with no samples (DAPO found no group with signal) is one empty batch: that update is skipped.
        """
        if self.buffer is not None:
            self.buffer.end_episode()
        generator = self._generator(step)
        if self.config.mode == "ssr_released":
            if self.buffer is None:
                self.buffer = released_buffer(len(samples))
            correct = [s.correct for s in samples]
            advantages = [s.advantage for s in samples]
            selection = select_ssr_released(
                samples, advantages, correct, self.buffer, generator, step, self.config.released_all_correct_frac
            )
            episode = _from_selection(samples, selection)
        else:
            episode = UpdateBatch(list(samples), [False] * len(samples))
        order = torch.randperm(len(episode.samples), generator=generator).tolist()
        size = self.batch_size or max(len(order), 1)
        batches = [
            UpdateBatch([episode.samples[i] for i in chunk], [episode.replayed[i] for i in chunk])
            for chunk in (order[start : start + size] for start in range(0, len(order), size))
        ]
        return batches or [UpdateBatch([], [])]

    def select(self, raw: UpdateBatch, step: int) -> UpdateBatch:
        """The update batch for one raw batch under the replay mode."""
        mode = self.config.mode
        advantages = [s.advantage for s in raw.samples]
        if mode == "filter":
            return _from_selection(raw.samples, select_filter(advantages))
        if mode == "ssr":
            target = self.batch_size or len(raw.samples)
            selection = select_ssr(
                raw.samples, advantages, target, self.buffer, self.config.alpha, self._generator(step), step
            )
            return _from_selection(raw.samples, selection)
        return raw

    def metrics(self) -> dict[str, float]:
        """`replay/buffer_size` (0 when the mode keeps no buffer)."""
        return {"replay/buffer_size": float(len(self.buffer)) if self.buffer is not None else 0.0}

    def state_dict(self) -> dict[str, Any]:
        """The buffer's contents as plain tensors and values (checkpointed, so a resume keeps the same buffer)."""
        if self.buffer is None:
            return {}
        state = self.buffer.state_dict()
        return {**state, "items": [s.to_state() for s in state["items"]], "capacity": self.buffer.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the buffer saved by `state_dict`."""
        if not state:
            return
        if self.buffer is None:
            self.buffer = ReplayBuffer("persistent", state["capacity"])
        items = [Sample.from_state(item) for item in state["items"]]
        self.buffer.load_state_dict({"items": items, "advantages": state["advantages"], "steps": state["steps"]})
