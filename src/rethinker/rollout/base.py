"""The rollout engine interface: prompts in, sampled token ids and their log-probabilities out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from rethinker.models.processor import PromptInputs


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: temperature 0 means greedy; top_k 0 and top_p 1 disable those filters."""

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1


def groups_per_batch(batch_size: int, group_size: int) -> int:
    """How many whole groups of `group_size` sequences a batch of `batch_size` sequences holds (at least one)."""
    return max(1, batch_size // group_size)


@dataclass(frozen=True)
class Generation:
    """One sampled response: its tokens, each token's log-probability under the sampling policy, whether it ended."""

    token_ids: torch.Tensor
    logprobs: torch.Tensor
    ended_with_eos: bool

    @property
    def length(self) -> int:
        """Number of response tokens (EOS included when present)."""
        return int(self.token_ids.numel())


class RolloutEngine(Protocol):
    """Generates responses for prompts; implementations: Hugging Face `generate` (CPU/GPU) and vLLM (GPU)."""

    def generate(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt, `params.n` responses (a group), in prompt order."""
        ...

    def sync_weights(self) -> None:
        """Make the engine sample from the trainer's current weights (a no-op when it shares the trainer's model)."""
        ...

    def sleep(self) -> None:
        """Free the accelerator memory the engine holds while the trainer updates (a no-op for in-process engines)."""
        ...
