"""What a replay mode is, and the mechanics every mode shares: cutting an episode into update batches, metrics, state.

A mode is a small strategy object chosen once by name (`replay.mode`). It may override four hooks: `new_buffer` (the
buffer it starts with), `collect` (rollout rounds per episode), `episode_batch` (the episode's training set before it
is cut) and `select` (each update batch). The selection rules themselves are the pure functions of `algo/replay.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from rethinker.algo.replay import ReplayBuffer, Selection
from rethinker.config import ReplayConfig
from rethinker.train.samples import Sample

Experience = Callable[[int], tuple[list[Sample], dict[str, float]]]
"""One rollout round (its index seeds the round's draws): graded samples with advantages, and their telemetry."""


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


def from_selection(raw: list[Sample], selection: Selection[Sample]) -> UpdateBatch:
    """The update batch a selection names: the chosen current samples, then the replayed ones."""
    samples = [raw[i] for i in selection.current] + [item for item, _ in selection.replayed]
    return UpdateBatch(samples, [False] * len(selection.current) + [True] * len(selection.replayed))


class ReplayMode:
    """The `none` behaviour: one rollout round per episode, every sample trained on, no buffer.

    Subclasses override the hooks they change; `split`, `metrics` and the checkpoint state are shared.
    """

    name: ClassVar[str] = "none"

    def __init__(self, config: ReplayConfig, batch_size: int, seed: int) -> None:
        self.config = config
        self.batch_size = batch_size
        self.seed = seed
        self.buffer: ReplayBuffer[Sample] | None = self.new_buffer()

    def new_buffer(self) -> ReplayBuffer[Sample] | None:
        """The buffer the mode starts with; None when it keeps none (or makes it on its first episode)."""
        return None

    def collect(self, experience: Experience, queries: int, group_size: int) -> tuple[list[Sample], dict[str, float]]:
        """An episode's graded samples and telemetry: a single rollout round of `queries` groups of `group_size`."""
        return experience(0)

    def episode_batch(self, samples: list[Sample], step: int, generator: torch.Generator) -> UpdateBatch:
        """The episode's training set before it is cut into update batches: every sample, none replayed."""
        return UpdateBatch(list(samples), [False] * len(samples))

    def select(self, raw: UpdateBatch, step: int) -> UpdateBatch:
        """The update batch for one raw batch: the raw batch itself."""
        return raw

    def generator(self, step: int) -> torch.Generator:
        """The random stream of step `step`'s replay draws, so a resumed run draws what an uninterrupted one would."""
        return torch.Generator().manual_seed(self.seed * 104_729 + step)

    def split(self, samples: list[Sample], step: int) -> list[UpdateBatch]:
        """Start an episode: empty an episode-lifetime buffer, shuffle, and cut the samples into update batches.

        An episode with no samples (DAPO found no group with signal) is one empty batch: that update is skipped.
        """
        if self.buffer is not None:
            self.buffer.end_episode()
        generator = self.generator(step)
        episode = self.episode_batch(samples, step, generator)
        order = torch.randperm(len(episode.samples), generator=generator).tolist()
        size = self.batch_size or max(len(order), 1)
        batches = [
            UpdateBatch([episode.samples[i] for i in chunk], [episode.replayed[i] for i in chunk])
            for chunk in (order[start : start + size] for start in range(0, len(order), size))
        ]
        return batches or [UpdateBatch([], [])]

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
