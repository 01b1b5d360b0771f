"""Score a micro-batch's responses with each distinct prompt run through the model once.

The G samples of a group share their prompt, and prompts (image tokens included) are most of a sequence. The prompt
pass keeps its keys and values, still attached to the graph; each row gets its prompt's copy by an index, and the
responses then attend to them in a second pass. The index sums the gradient over the rows that share a prompt, the
same gradient as one copy of the prompt per row, and the vision tower sees each distinct prompt's images once.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from rethinker.models.processor import mm_token_type_ids


def first_rows(owners: tuple[int, ...]) -> list[int]:
    """For each distinct prompt (numbered by first appearance), the first row that shows it."""
    firsts: dict[int, int] = {}
    for row, owner in enumerate(owners):
        firsts.setdefault(owner, row)
    return [firsts[owner] for owner in sorted(firsts)]


def shared_prefix_logits(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_width: int,
    owners: tuple[int, ...],
    images: dict[str, torch.Tensor],
) -> torch.Tensor:
    """Logits [rows, response_width, vocab] that predict each response token of [prompt | response] rows.

    `owners[row]` numbers the row's prompt (distinct prompts numbered by first appearance); `images` holds the
    distinct prompts' `pixel_values` and `image_grid_thw` in that order, and `row_grid_thw` (every row's grids) for
    the rows' 3D positions; it is empty for text-only batches.
    """
    prompt_width = input_ids.shape[1] - response_width
    token_types = mm_token_type_ids(input_ids, model.config.image_token_id)
    positions, _ = model.model.get_rope_index(
        input_ids,
        mm_token_type_ids=token_types,
        image_grid_thw=images.get("row_grid_thw"),
        attention_mask=attention_mask,
    )
    firsts = torch.tensor(first_rows(owners), device=input_ids.device)
    prompt = {
        "input_ids": input_ids[firsts, :prompt_width],
        "attention_mask": attention_mask[firsts, :prompt_width],
        "position_ids": positions[:, firsts, :prompt_width],
        "use_cache": True,
        "logits_to_keep": 1,
    }
    if "pixel_values" in images:
        prompt.update(
            pixel_values=images["pixel_values"],
            image_grid_thw=images["image_grid_thw"],
            mm_token_type_ids=token_types[firsts, :prompt_width],
        )
    prefill = model(**prompt)
    index = torch.tensor(owners, device=input_ids.device)
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
