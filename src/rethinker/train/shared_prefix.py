"""Score a micro-batch's responses with each distinct prompt run through the model once.

The G samples of a group share their prompt, and prompts (image tokens included) are most of a sequence. The prompt
pass keeps its keys and values, still attached to the graph; each row gets its prompt's copy by an index, and the
responses then attend to them in a second pass. The index sums the gradient over the rows that share a prompt, the
same gradient as one copy of the prompt per row, and the vision tower sees each distinct prompt's images once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from transformers import DynamicCache, PreTrainedModel

from rethinker.models.processor import mm_token_type_ids, mrope_positions

if TYPE_CHECKING:
    from rethinker.train.logprobs import MicroBatch


def first_rows(owners: tuple[int, ...]) -> list[int]:
    """For each distinct prompt (numbered by first appearance), the first row that shows it."""
    firsts: dict[int, int] = {}
    for row, owner in enumerate(owners):
        firsts.setdefault(owner, row)
    return [firsts[owner] for owner in sorted(firsts)]


def shared_prefix_logits(model: PreTrainedModel, batch: MicroBatch) -> torch.Tensor:
    """Logits [rows, response_width, vocab] that predict each response token of the batch's [prompt | response] rows.

    Needs `batch.prompt_owner` (each row's prompt, numbered by first appearance); the batch's pixels are its distinct
    examples' images in that order.
    """
    device = model.device
    input_ids, attention_mask = batch.input_ids.to(device), batch.attention_mask.to(device)
    response_width = batch.response_ids.shape[1]
    prompt_width = input_ids.shape[1] - response_width
    row_grids = batch.image_grid_thw.to(device) if batch.image_grid_thw is not None else None
    positions = mrope_positions(model, input_ids, attention_mask, row_grids)
    firsts = torch.tensor(first_rows(batch.prompt_owner), device=device)
    prompt = {
        "input_ids": input_ids[firsts, :prompt_width],
        "attention_mask": attention_mask[firsts, :prompt_width],
        "position_ids": positions[:, firsts, :prompt_width],
        "use_cache": True,
        "logits_to_keep": 1,
    }
    if batch.pixel_values is not None:
        prompt.update(
            pixel_values=batch.pixel_values.to(device, dtype=model.dtype),
            image_grid_thw=batch.distinct_grid_thw.to(device),
            mm_token_type_ids=mm_token_type_ids(prompt["input_ids"], model.config.image_token_id),
        )
    prefill = model(**prompt)
    index = torch.tensor(batch.prompt_owner, device=device)
    cache = DynamicCache()
    for layer_index, layer in enumerate(prefill.past_key_values.layers):
        cache.update(layer.keys.index_select(0, index), layer.values.index_select(0, index), layer_index)
    responses = model(
        input_ids=input_ids[:, prompt_width:],
        attention_mask=attention_mask,
        position_ids=positions[:, :, prompt_width:],
        past_key_values=cache,
        use_cache=False,
        logits_to_keep=response_width,
    )
    first = prefill.logits[:, -1:].index_select(0, index)
    return torch.cat([first, responses.logits[:, :-1]], dim=1)
