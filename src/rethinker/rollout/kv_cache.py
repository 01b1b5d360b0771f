"""A key/value cache preallocated for a whole rollout: decoding writes in place instead of growing tensors.

Each prompt is prefilled once; its keys and values are then copied to the `n` rows that sample from it, so a group of
`n` responses shares one prefill (and one pass of the vision encoder over the prompt's images).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


class RolloutCache:
    """Keys/values of every layer for `rows` sequences of up to `capacity` tokens, filled left to right in lockstep.

    Implements the one method the Hugging Face attention layers call on a cache: `update`.
    """

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], length: int) -> None:
        self.keys = keys
        self.values = values
        self.length = length
        self.is_compileable = False

    @classmethod
    def from_prefill(cls, prefill: DynamicCache, repeats: int, extra_tokens: int) -> RolloutCache:
        """Room for `extra_tokens` more tokens, each prefilled row repeated `repeats` times (row i -> rows i*r..)."""
        keys, values = [], []
        length = 0
        for layer in prefill.layers:
            for source, target in ((layer.keys, keys), (layer.values, values)):
                rows, heads, length, dim = source.shape
                buffer = source.new_empty((rows * repeats, heads, length + extra_tokens, dim))
                buffer[:, :, :length] = source.repeat_interleave(repeats, dim=0)
                target.append(buffer)
        return cls(keys, values, length)

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this step's keys/values of layer `layer_idx` at the current length; return everything so far."""
        end = self.length + key_states.shape[-2]
        self.keys[layer_idx][:, :, self.length : end] = key_states
        self.values[layer_idx][:, :, self.length : end] = value_states
        return self.keys[layer_idx][:, :, :end], self.values[layer_idx][:, :, :end]

    def advance(self, tokens: int = 1) -> None:
        """Mark `tokens` more positions as filled (after every layer has written them)."""
        self.length += tokens
