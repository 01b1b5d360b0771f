"""`dapo`: DAPO dynamic sampling, which keeps rolling out until the episode holds enough groups whose rewards differ."""

from __future__ import annotations

from typing import ClassVar

import torch

from rethinker.algo.replay import DapoBatch, dapo_accept_groups
from rethinker.train.replay_modes.base import Experience, ReplayMode
from rethinker.train.samples import Sample


class DapoSampling(ReplayMode):
    """Filters at rollout time over up to `replay.dapo_max_rounds` rounds; its update batches pass through unchanged."""

    name: ClassVar[str] = "dapo"

    def collect(self, experience: Experience, queries: int, group_size: int) -> tuple[list[Sample], dict[str, float]]:
        """Rounds until `queries` groups with differing rewards are held; the first round's telemetry plus `dapo/*`."""
        batch: DapoBatch[list[Sample]] = DapoBatch(queries, self.config.dapo_max_rounds)
        first_metrics: dict[str, float] = {}
        while not batch.done:
            samples, metrics = experience(batch.rounds_used)
            first_metrics = first_metrics or metrics
            groups = [samples[i : i + group_size] for i in range(0, len(samples), group_size)]
            rewards = torch.tensor([s.reward for s in samples])
            batch.add_round([groups[i] for i in dapo_accept_groups(rewards, group_size)])
        first_metrics.update({"dapo/rounds": float(batch.rounds_used), "dapo/filled": float(batch.filled)})
        return [s for group in batch.groups for s in group], first_metrics
