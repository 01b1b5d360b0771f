"""The trained unit: one response to one query, with what the update and the replay buffer need to know about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch


@dataclass(eq=False)
class Sample:
    """One query-response pair from a rollout; `old_logprobs` are the generating policy's, so replay stays correct.

    Pixels are not stored: they are rebuilt from `example_index` when a micro-batch needs them.
    """

    example_index: int
    query_index: int
    prompt_ids: torch.Tensor
    response_ids: torch.Tensor
    old_logprobs: torch.Tensor
    response_text: str
    reward: float
    correct: bool
    ended_with_eos: bool
    born_step: int
    advantage: float = 0.0
    forced_rethink: bool = False
    accepted_rethink: bool = False
    wait_count: int = 0

    @property
    def response_length(self) -> int:
        """Number of response tokens."""
        return int(self.response_ids.numel())

    def to_state(self) -> dict[str, Any]:
        """A dict of tensors and plain values, loadable with `torch.load(weights_only=True)`."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Sample:
        """Rebuild a sample saved by `to_state`."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in names})
