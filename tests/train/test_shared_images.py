"""Rows sharing a prompt share one pass over it (or, under gradient checkpointing, one encoding of its images),
with the same log-probs and gradients as one copy per row."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText

from rethinker.models.loading import cache_dir
from rethinker.models.processor import VisionProcessor, mm_token_type_ids
from rethinker.models.tiny import FAMILIES, ensure_tiny
from rethinker.train.logprobs import collate, distinct_images, prompt_owners, response_logprobs
from rethinker.train.samples import Sample
from rethinker.train.shared_images import token_index

TOLERANCE = 1e-5


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def batch_setup(request: pytest.FixtureRequest):
    path = ensure_tiny(cache_dir(), family=request.param)
    model = AutoModelForImageTextToText.from_pretrained(path)
    processor = VisionProcessor.from_pretrained(path)
    prompts = [
        processor.encode(
            processor.render([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]),
            [Image.new("RGB", size, colour)],
        )
        for text, size, colour in (("How many?", (84, 84), (200, 30, 30)), ("Count them.", (112, 56), (20, 90, 200)))
    ]
    response = torch.tensor(processor.tokenizer.encode(" I count 3 dots.", add_special_tokens=False))
    samples = [
        Sample(i, i, prompts[i].input_ids, response[: 2 + row], torch.zeros(2 + row), "", 0.0, False, False, 0)
        for row, i in enumerate((0, 1, 0, 1, 0))
    ]
    batch = collate(
        samples, processor.tokenizer.pad_token_id, lambda i: (prompts[i].pixel_values, prompts[i].image_grid_thw)
    )
    return model, prompts, samples, batch


def _per_row_logprobs(model, prompts, samples, batch) -> torch.Tensor:
    """The reference: the model's own forward with one copy of the pixels per row."""
    pixel_values = torch.cat([prompts[s.example_index].pixel_values for s in samples])
    grids = torch.cat([prompts[s.example_index].image_grid_thw for s in samples])
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        pixel_values=pixel_values,
        image_grid_thw=grids,
        mm_token_type_ids=mm_token_type_ids(batch.input_ids, model.config.image_token_id),
        logits_to_keep=batch.response_ids.shape[1] + 1,
    ).logits[:, :-1]
    return torch.log_softmax(logits.float(), -1).gather(2, batch.response_ids[..., None]).squeeze(-1)


def _gradients(model, logprobs: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad()
    (logprobs * mask).sum().backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("checkpointing", [False, True], ids=["shared-prompt-pass", "shared-images-only"])
def test_same_log_probs_and_gradients_as_one_copy_per_row(batch_setup, checkpointing: bool) -> None:
    model, prompts, samples, batch = batch_setup
    if checkpointing:
        model.activation_checkpointing_enable()
    try:
        shared = response_logprobs(model, batch)
    finally:
        if checkpointing:
            model.activation_checkpointing_disable()
    shared_grads = _gradients(model, shared, batch.response_mask)
    reference = _per_row_logprobs(model, prompts, samples, batch)
    reference_grads = _gradients(model, reference, batch.response_mask)
    mask = batch.response_mask.bool()
    assert torch.allclose(shared[mask], reference[mask], atol=TOLERANCE)
    visual = [name for name in reference_grads if ".visual." in f".{name}"]
    assert visual, "the vision tower received no gradient"
    for name, grad in reference_grads.items():
        assert torch.allclose(shared_grads[name], grad, atol=TOLERANCE, rtol=1e-4), name


def test_each_distinct_prompt_and_image_goes_through_the_model_once(batch_setup) -> None:
    model, prompts, _, batch = batch_setup
    seen: list[int] = []
    prompt_rows: list[int] = []
    hooks = [
        model.model.visual.register_forward_hook(lambda _m, args, _o: seen.append(int(args[0].shape[0]))),
        model.model.language_model.register_forward_hook(
            lambda _m, _a, kwargs, _o: prompt_rows.append(int(kwargs["inputs_embeds"].shape[0])), with_kwargs=True
        ),
    ]
    try:
        with torch.no_grad():
            response_logprobs(model, batch)
    finally:
        for hook in hooks:
            hook.remove()
    assert seen == [sum(int(p.pixel_values.shape[0]) for p in prompts)]
    assert prompt_rows == [len(prompts), len(batch.prompt_owner)]
    assert batch.prompt_owner == (0, 1, 0, 1, 0)
    assert batch.image_order == (0, 1, 0, 1, 0)


def test_distinct_images_fetch_each_example_once() -> None:
    fetched: list[int] = []

    def pixels(index: int):
        fetched.append(index)
        images = 2 if index == 7 else 1
        return torch.full((4 * images, 3), float(index)), torch.tensor([[1, 2, 2]] * images)

    images = distinct_images([7, 3, 7, 9, 3], pixels)
    assert fetched == [7, 3, 9]
    assert images.order == (0, 1, 2, 0, 1, 3, 2)
    assert images.pixel_values.shape == (16, 3)
    assert distinct_images([1, 2], lambda _: (None, None)).pixel_values is None


def test_prompt_owners_number_prompts_by_first_appearance() -> None:
    assert prompt_owners([7, 3, 7, 9, 3]) == (0, 1, 0, 2, 1)
    assert prompt_owners([1, 2, 3]) == ()


def test_token_index_repeats_each_images_merged_tokens() -> None:
    grids = torch.tensor([[1, 2, 4], [1, 4, 4]])
    assert token_index(grids, 2, [1, 0, 1]).tolist() == [2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
