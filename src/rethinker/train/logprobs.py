"""Per-token log-probabilities of responses under a model, for a micro-batch of samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from rethinker.models.processor import mm_token_type_ids
from rethinker.train.samples import Sample
from rethinker.train.shared_images import encode_each_image_once
from rethinker.train.shared_prefix import shared_prefix_logits

PixelFn = Callable[[int], tuple[torch.Tensor | None, torch.Tensor | None]]
"""Maps an example index to its (pixel_values, image_grid_thw), built on demand."""


@dataclass(frozen=True)
class MicroBatch:
    """Sequences laid out as [left-padded prompt | right-padded response], so responses share one column range.

    `pixel_values` holds each distinct example's images once (grids `distinct_grid_thw`); `image_grid_thw` lists every
    row's images, which are the distinct images `image_order`. `prompt_owner` numbers each row's prompt (distinct
    examples by first appearance); empty when no two rows share a prompt.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    old_logprobs: torch.Tensor
    advantages: torch.Tensor
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None
    distinct_grid_thw: torch.Tensor | None = None
    image_order: tuple[int, ...] = ()
    prompt_owner: tuple[int, ...] = ()


def collate(samples: Sequence[Sample], pad_id: int, pixels: PixelFn) -> MicroBatch:
    """Pad a list of samples into one `MicroBatch` (prompts to the left, responses to the right).

    Pixels are fetched and kept once per distinct example, not once per sample of its group.
    """
    prompt_width = max(int(s.prompt_ids.numel()) for s in samples)
    response_width = max(s.response_length for s in samples)
    n = len(samples)
    input_ids = torch.full((n, prompt_width + response_width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    response_ids = torch.full((n, response_width), pad_id, dtype=torch.long)
    response_mask = torch.zeros((n, response_width), dtype=torch.float32)
    old_logprobs = torch.zeros((n, response_width), dtype=torch.float32)
    for row, sample in enumerate(samples):
        p, r = int(sample.prompt_ids.numel()), sample.response_length
        input_ids[row, prompt_width - p : prompt_width] = sample.prompt_ids
        input_ids[row, prompt_width : prompt_width + r] = sample.response_ids
        attention_mask[row, prompt_width - p : prompt_width + r] = 1
        response_ids[row, :r] = sample.response_ids
        response_mask[row, :r] = 1.0
        old_logprobs[row, :r] = sample.old_logprobs
    images = distinct_images([s.example_index for s in samples], pixels)
    return MicroBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_ids=response_ids,
        response_mask=response_mask,
        old_logprobs=old_logprobs,
        advantages=torch.tensor([s.advantage for s in samples], dtype=torch.float32),
        pixel_values=images.pixel_values,
        image_grid_thw=images.grid_thw[list(images.order)] if images.grid_thw is not None else None,
        distinct_grid_thw=images.grid_thw,
        image_order=images.order,
        prompt_owner=prompt_owners([s.example_index for s in samples]),
    )


def prompt_owners(example_indices: Sequence[int]) -> tuple[int, ...]:
    """Each row's prompt numbered by first appearance, or () when every row has its own prompt."""
    numbers: dict[int, int] = {}
    owners = tuple(numbers.setdefault(index, len(numbers)) for index in example_indices)
    return owners if len(numbers) < len(owners) else ()


@dataclass(frozen=True)
class DistinctImages:
    """Each distinct example's images once (`pixel_values`, `grid_thw`) and, per row in turn, which of them it shows."""

    pixel_values: torch.Tensor | None
    grid_thw: torch.Tensor | None
    order: tuple[int, ...]


def distinct_images(example_indices: Sequence[int], pixels: PixelFn) -> DistinctImages:
    """The images of the rows' examples, each example's fetched once, and the image order that rebuilds every row."""
    values, grids, order = [], [], []
    first_image: dict[int, range] = {}
    count = 0
    for index in example_indices:
        if index not in first_image:
            pixel_values, grid = pixels(index)
            images = 0 if grid is None else len(grid)
            first_image[index] = range(count, count + images)
            count += images
            if images:
                values.append(pixel_values)
                grids.append(grid)
        order.extend(first_image[index])
    if not values:
        return DistinctImages(None, None, ())
    return DistinctImages(torch.cat(values), torch.cat(grids), tuple(order))


def checkpointing_activations(model: torch.nn.Module) -> bool:
    """Whether any of the model's modules recomputes its activations in the backward pass."""
    return any(getattr(module, "gradient_checkpointing", False) for module in model.modules())


def response_logprobs(model: PreTrainedModel, batch: MicroBatch, temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities [batch, response_width] of the response tokens under softmax(logits / temperature).

    Only the logits of the response positions are materialised, which bounds memory by the response length rather
    than the whole sequence. Rows that share a prompt share one pass over it (`shared_prefix_logits`), except under
    gradient checkpointing, where each distinct image is still encoded once (`encode_each_image_once`).
    """
    device = model.device
    if batch.prompt_owner and not checkpointing_activations(model):
        logits = shared_prefix_logits(model, batch)
    else:
        logits = _full_sequence_logits(model, batch)
    logits = logits.float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    chosen = logits.gather(2, batch.response_ids.to(device)[..., None]).squeeze(-1)
    return chosen - torch.logsumexp(logits, dim=-1)


def _full_sequence_logits(model: PreTrainedModel, batch: MicroBatch) -> torch.Tensor:
    """Logits predicting each response token from one forward over every whole row."""
    input_ids = batch.input_ids.to(model.device)
    inputs = {
        "input_ids": input_ids,
        "attention_mask": batch.attention_mask.to(model.device),
        "logits_to_keep": batch.response_ids.shape[1] + 1,
        "use_cache": False,
    }
    sharing = nullcontext()
    if batch.pixel_values is not None:
        inputs["pixel_values"] = batch.pixel_values.to(model.device, dtype=model.dtype)
        inputs["image_grid_thw"] = batch.image_grid_thw.to(model.device)
        inputs["mm_token_type_ids"] = mm_token_type_ids(input_ids, model.config.image_token_id)
        sharing = encode_each_image_once(model, batch.distinct_grid_thw, batch.image_order)
    with sharing:
        return model(**inputs).logits[:, :-1]
