"""The HF rollout engine: groups, recorded log-probs equal a forward pass, special tokens can never be sampled."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText

from rethinker.models.processor import VisionProcessor, mm_token_type_ids
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine


@pytest.fixture(scope="module")
def setup(tiny_dir: Path):
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = VisionProcessor.from_pretrained(tiny_dir)
    engine = HFRolloutEngine(
        model, processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id, processor.special_token_ids, 16
    )
    prompts = [
        processor.encode(
            processor.render([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]),
            [Image.new("RGB", size, (123, 117, 104))],
        )
        for question, size in (("How many dots?", (84, 84)), ("How many red dots are there?", (112, 84)))
    ]
    return model, processor, engine, prompts


def test_groups_and_logprobs_match_a_forward_pass(setup) -> None:
    model, processor, engine, prompts = setup
    image_id = processor.image_pad_id
    torch.manual_seed(0)
    groups = engine.generate(prompts, SamplingParams(max_new_tokens=12, n=3))
    assert [len(g) for g in groups] == [3, 3]
    for prompt, group in zip(prompts, groups, strict=True):
        for generation in group:
            ids = torch.cat([prompt.input_ids, generation.token_ids])[None]
            expected = _forward_logprobs(model, prompt, ids, generation.token_ids, mm_token_type_ids(ids, image_id))
            assert torch.allclose(expected, generation.logprobs, atol=1e-4)


def test_generate_records_its_prefill_and_decode_time(setup) -> None:
    _, _, engine, prompts = setup
    engine.generate(prompts, SamplingParams(max_new_tokens=6, n=2))
    first = dict(engine.timings)
    assert first["prefill_s"] > 0 and first["decode_s"] > 0
    engine.generate(prompts[:1], SamplingParams(max_new_tokens=1, n=2))
    assert engine.timings["decode_s"] < first["decode_s"], "each call reports its own time, not a running total"


def _forward_logprobs(model, prompt, ids, targets, token_types) -> torch.Tensor:
    with torch.no_grad():
        logits = model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            pixel_values=prompt.pixel_values,
            image_grid_thw=prompt.image_grid_thw,
            mm_token_type_ids=token_types,
        ).logits[0, prompt.length - 1 : -1]
    return torch.log_softmax(logits, -1).gather(1, targets[:, None]).squeeze(1)


def test_image_tokens_get_their_2d_positions(setup) -> None:
    model, processor, engine, prompts = setup
    torch.manual_seed(1)
    generation = engine.generate(prompts[:1], SamplingParams(max_new_tokens=6))[0][0]
    ids = torch.cat([prompts[0].input_ids, generation.token_ids])[None]
    flat = _forward_logprobs(model, prompts[0], ids, generation.token_ids, None)
    assert not torch.allclose(flat, generation.logprobs, atol=1e-4), "1D positions for image tokens went unnoticed"


def test_same_seed_same_samples(setup) -> None:
    _, _, engine, prompts = setup
    torch.manual_seed(3)
    first = engine.generate(prompts, SamplingParams(max_new_tokens=8, n=2))
    torch.manual_seed(3)
    second = engine.generate(prompts, SamplingParams(max_new_tokens=8, n=2))
    assert all(
        torch.equal(a.token_ids, b.token_ids)
        for ga, gb in zip(first, second, strict=True)
        for a, b in zip(ga, gb, strict=True)
    )


def test_special_tokens_are_never_sampled_even_when_favoured(tiny_dir: Path, setup) -> None:
    _, processor, _, prompts = setup
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    favoured = processor.image_pad_id
    with torch.no_grad():
        model.lm_head.weight[favoured] = model.model.language_model.norm.weight.sign() * 50.0
    unblocked = HFRolloutEngine(model, processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id, [], 16)
    greedy = unblocked.generate(prompts, SamplingParams(max_new_tokens=3, temperature=0.0))
    assert favoured in greedy[0][0].token_ids.tolist()
    engine = HFRolloutEngine(
        model, processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id, processor.special_token_ids, 16
    )
    for temperature in (0.0, 1.0):
        torch.manual_seed(0)
        groups = engine.generate(prompts, SamplingParams(max_new_tokens=10, n=4, temperature=temperature))
        sampled = torch.cat([g.token_ids for group in groups for g in group])
        assert not set(sampled.tolist()) & set(processor.special_token_ids)


def test_eos_ends_a_response(setup) -> None:
    model, processor, _, prompts = setup
    eos = processor.tokenizer.eos_token_id
    engine = HFRolloutEngine(model, eos, processor.tokenizer.pad_token_id, processor.special_token_ids, 16)
    with torch.no_grad():
        saved = model.lm_head.weight[eos].clone()
        model.lm_head.weight[eos] = model.model.language_model.norm.weight.sign() * 50.0
    try:
        group = engine.generate(prompts[:1], SamplingParams(max_new_tokens=10, n=2, temperature=0.0))[0]
    finally:
        with torch.no_grad():
            model.lm_head.weight[eos] = saved
    assert all(g.ended_with_eos and g.token_ids.tolist() == [eos] for g in group)
