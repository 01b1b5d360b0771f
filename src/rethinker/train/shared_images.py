"""Encode each distinct image once per forward pass, however many rows of the batch show it.

A group's G samples share their query's images. The model's forward would run the vision encoder over each row's
copy; instead the encoder sees every distinct image once and its output rows are repeated for the sequences that use
them. The repetition is an index, so the gradient flowing back into the encoder is the sum over those sequences, the
same as with one copy per row. Hooks on the vision tower do this inside the model's own forward call, so it also
holds under FSDP, where the tower's weights are only gathered during that call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import accumulate

import torch
from transformers import PreTrainedModel


def token_index(grids: torch.Tensor, merge_size: int, order: Sequence[int]) -> torch.Tensor:
    """Rows of the encoder's merged output for the images `order` (indices into `grids`), in that order."""
    counts = (grids.prod(-1) // merge_size**2).tolist()
    starts = [0, *accumulate(counts)]
    return torch.cat([torch.arange(starts[i], starts[i] + counts[i]) for i in order])


@contextmanager
def encode_each_image_once(model: PreTrainedModel, grids: torch.Tensor, order: Sequence[int]) -> Iterator[None]:
    """While active, the vision tower encodes the distinct images `grids` and answers for the images `order`.

    The forward must be called with the distinct images' pixels and with the image grids of every row (`grids`
    indexed by `order`), which the model uses for the positions of each row's image tokens.
    """
    visual = model.model.visual
    index = token_index(grids, int(visual.spatial_merge_size), order)

    def distinct_grids(_module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if "grid_thw" not in kwargs:
            raise TypeError(f"{type(visual).__name__} was not called with grid_thw=; cannot share image encodings")
        return args, {**kwargs, "grid_thw": grids.to(kwargs["grid_thw"].device)}

    def repeat_rows(_module: torch.nn.Module, _args: tuple, output: object) -> object:
        rows = index.to(output.pooler_output.device)
        output.pooler_output = output.pooler_output.index_select(0, rows)
        if getattr(output, "deepstack_features", None):
            output.deepstack_features = [feature.index_select(0, rows) for feature in output.deepstack_features]
        return output

    handles = [
        visual.register_forward_pre_hook(distinct_grids, with_kwargs=True),
        visual.register_forward_hook(repeat_rows),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
