"""The decode paths reproduce the model's forward for every family; a group shares one prefill and one image pass."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, DynamicCache

from rethinker.models.loading import cache_dir
from rethinker.models.processor import VisionProcessor, mm_token_type_ids
from rethinker.models.tiny import FAMILIES, ensure_tiny
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.decode import ModuleDecoder, PlainDecoder, decoder_for, unsupported_reason
from rethinker.rollout.hf import HFRolloutEngine, collate_prompts
from rethinker.rollout.kv_cache import RolloutCache

TOLERANCE = 1e-4
"""Float32 on CPU: one-token decoding and a full forward agree to about 1e-6."""


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_setup(request: pytest.FixtureRequest):
    path = ensure_tiny(cache_dir(), family=request.param)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    processor = VisionProcessor.from_pretrained(path)
    prompts = [
        processor.encode(
            processor.render([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]),
            [Image.new("RGB", size, (90, 160, 40))],
        )
        for text, size in (("How many dots?", (84, 84)), ("Count the red dots in this picture.", (112, 56)))
    ]
    return model, processor, prompts


def _decode_logits(model, decoder, prompts, processor, continuation: list[int]) -> torch.Tensor:
    """Logits after each token of `continuation`, decoded one at a time after a left-padded prefill."""
    engine = HFRolloutEngine.for_processor(model, processor)
    _, prefill, mask, next_positions = engine._prefill(prompts)
    cache = RolloutCache.from_prefill(prefill, 1, len(continuation))
    visible = torch.cat([mask, torch.ones((len(prompts), len(continuation)), dtype=torch.bool)], dim=1)
    tokens = torch.tensor(continuation)
    out = []
    with torch.no_grad():
        for step, token in enumerate(tokens):
            window = visible[:, : cache.length + 1]
            out.append(decoder.step(token.repeat(len(prompts)), next_positions + step, window, cache))
    return torch.stack(out, dim=1)


def _forward_logits(model, prompt, continuation: list[int], image_id: int) -> torch.Tensor:
    ids = torch.cat([prompt.input_ids, torch.tensor(continuation)])[None]
    with torch.no_grad():
        logits = model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            pixel_values=prompt.pixel_values,
            image_grid_thw=prompt.image_grid_thw,
            mm_token_type_ids=mm_token_type_ids(ids, image_id),
        ).logits
    return logits[0, prompt.length :]


DECODERS = {
    "plain-fused": PlainDecoder,
    "plain-unfused": lambda model: PlainDecoder(model, fuse_max_bytes=0),
    "modules": ModuleDecoder,
}


@pytest.mark.parametrize("decoder_name", sorted(DECODERS))
def test_decoding_matches_the_forward_pass(family_setup, decoder_name: str) -> None:
    model, processor, prompts = family_setup
    assert unsupported_reason(model) is None
    decoder = DECODERS[decoder_name](model)
    if decoder_name.startswith("plain"):
        assert (decoder.fused is not None) == (decoder_name == "plain-fused")
    continuation = processor.tokenizer.encode(" I count 3 dots.", add_special_tokens=False)
    decoded = _decode_logits(model, decoder, prompts, processor, continuation)
    for row, prompt in enumerate(prompts):
        expected = _forward_logits(model, prompt, continuation, processor.image_pad_id)
        assert torch.allclose(decoded[row], expected, atol=TOLERANCE), (decoded[row] - expected).abs().max()


def test_unsupported_layouts_fall_back_to_the_module_decoder(family_setup) -> None:
    model, _, _ = family_setup
    text_config = model.model.language_model.config
    saved = text_config.hidden_act
    text_config.hidden_act = "gelu"
    try:
        assert "silu" in unsupported_reason(model)
        assert isinstance(decoder_for(model), ModuleDecoder)
        with pytest.raises(TypeError, match="silu"):
            PlainDecoder(model)
    finally:
        text_config.hidden_act = saved
    assert isinstance(decoder_for(model), PlainDecoder)


def test_a_group_shares_one_prefill_and_one_pass_of_the_vision_encoder(family_setup) -> None:
    model, processor, prompts = family_setup
    seen_rows: list[int] = []
    hook = model.model.visual.register_forward_hook(lambda _m, args, _o: seen_rows.append(int(args[0].shape[0])))
    try:
        torch.manual_seed(0)
        groups = HFRolloutEngine.for_processor(model, processor, 64).generate(
            prompts, SamplingParams(max_new_tokens=4, n=8)
        )
    finally:
        hook.remove()
    assert [len(g) for g in groups] == [8, 8]
    assert seen_rows == [sum(int(p.pixel_values.shape[0]) for p in prompts)]


def _prefill_rows(model, processor, prompts, batch_size: int) -> list[int]:
    """Rows of each prefill (model forward) while the engine samples 4 responses per prompt."""
    calls: list[int] = []
    hook = model.register_forward_hook(
        lambda _m, _a, kwargs, _o: calls.append(int(kwargs["input_ids"].shape[0])), with_kwargs=True
    )
    try:
        engine = HFRolloutEngine.for_processor(model, processor, batch_size)
        engine.generate(prompts, SamplingParams(max_new_tokens=2, n=4))
    finally:
        hook.remove()
    return calls


def test_whole_groups_per_batch(family_setup) -> None:
    model, processor, prompts = family_setup
    assert _prefill_rows(model, processor, prompts, 10) == [2]
    assert _prefill_rows(model, processor, prompts, 6) == [1, 1]


def test_rollout_cache_repeats_rows_and_writes_in_place() -> None:
    prefill = DynamicCache()
    keys = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).view(2, 1, 3, 2)
    prefill.update(keys, -keys, 0)
    cache = RolloutCache.from_prefill(prefill, repeats=3, extra_tokens=4)
    assert cache.length == 3 and cache.keys[0].shape == (6, 1, 7, 2)
    assert torch.equal(cache.keys[0][:3, :, :3], keys[0:1].expand(3, -1, -1, -1))
    assert torch.equal(cache.values[0][3:, :, :3], -keys[1:2].expand(3, -1, -1, -1))
    storage = cache.keys[0].data_ptr()
    new = torch.full((6, 1, 1, 2), 9.0)
    seen_keys, seen_values = cache.update(new, -new, 0)
    cache.advance()
    assert seen_keys.shape[2] == 4 and torch.equal(seen_keys[:, :, 3], new[:, :, 0])
    assert torch.equal(seen_values[:, :, 3], -new[:, :, 0])
    assert cache.keys[0].data_ptr() == storage and cache.length == 4


def test_collated_prompts_are_left_padded() -> None:
    from rethinker.models.processor import PromptInputs

    short = PromptInputs(torch.tensor([5, 6]), None, None)
    long = PromptInputs(torch.tensor([1, 2, 3]), None, None)
    batch = collate_prompts([short, long], pad_id=0, image_token_id=9)
    assert batch["input_ids"].tolist() == [[0, 5, 6], [1, 2, 3]]
    assert batch["attention_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
