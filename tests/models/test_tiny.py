"""The tiny model is a real Qwen-VL that plain transformers loads and that generates; each family's config is right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from rethinker.models.processor import VisionProcessor
from rethinker.models.tiny import (
    FAMILIES,
    SCALED_SPECS,
    SPECIAL_TOKENS,
    TinySpec,
    family_of,
    model_config,
    mrope_section,
    train_tokenizer,
)


def test_plain_transformers_loads_and_generates(tiny_dir: Path) -> None:
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    processor = VisionProcessor.from_pretrained(tiny_dir)
    text = processor.render(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many dots?"}]}]
    )
    inputs = processor.encode(text, [Image.new("RGB", (84, 84), (123, 117, 104))])
    out = model.generate(
        input_ids=inputs.input_ids[None],
        attention_mask=torch.ones_like(inputs.input_ids)[None],
        pixel_values=inputs.pixel_values,
        image_grid_thw=inputs.image_grid_thw,
        max_new_tokens=5,
        do_sample=False,
    )
    assert out.shape[1] > inputs.length


def test_saved_files_are_the_standard_processor_layout(tiny_dir: Path) -> None:
    for name in ("preprocessor_config.json", "video_preprocessor_config.json", "chat_template.jinja", "tokenizer.json"):
        assert (tiny_dir / name).is_file(), name
    image_config = json.loads((tiny_dir / "preprocessor_config.json").read_text())
    assert image_config["image_processor_type"] == "Qwen2VLImageProcessor"
    assert image_config["processor_class"] == "Qwen2_5_VLProcessor"
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert tokenizer.eos_token == "<|im_end|>"
    for token in SPECIAL_TOKENS:
        assert tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id


def test_special_token_ids_match_the_model_config() -> None:
    tokenizer = train_tokenizer(["I count 3 dots. \\boxed{3}"] * 20, vocab_size=60)
    config = model_config(TinySpec(), tokenizer)
    assert config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert config.vision_start_token_id == tokenizer.convert_tokens_to_ids("<|vision_start|>")
    assert config.text_config.vocab_size == len(tokenizer)
    section = config.text_config.rope_parameters["mrope_section"]
    assert sum(section) == TinySpec().text_hidden // TinySpec().text_heads // 2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_config_matches_the_tokenizer_and_its_rotary_layout(family: str) -> None:
    tokenizer = train_tokenizer(["I count 3 dots. \\boxed{3}"] * 20, vocab_size=60)
    spec = FAMILIES[family].spec
    config = model_config(spec, tokenizer, family)
    assert config.model_type == family
    assert config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert config.text_config.vocab_size == len(tokenizer)
    assert config.vision_config.patch_size == spec.patch_size
    rope = config.text_config.rope_parameters
    half_head = spec.text_hidden // spec.text_heads // 2
    assert sum(rope["mrope_section"]) == half_head
    assert rope.get("mrope_interleaved", False) == (family == "qwen3_vl")


def test_mrope_sections_reproduce_the_released_checkpoints() -> None:
    assert mrope_section(64, interleaved=False) == [16, 24, 24]
    assert mrope_section(64, interleaved=True) == [24, 20, 20]
    for half in (8, 16, 32, 64):
        temporal, height, width = mrope_section(half, interleaved=True)
        assert temporal + height + width == half and 3 * max(height, width) <= half


def test_unknown_family_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="qwen3_vl"):
        family_of("llava")


@pytest.mark.parametrize(("size", "low", "high"), [("tiny", 0.3e6, 1e6), ("small", 20e6, 30e6), ("base", 85e6, 115e6)])
def test_scaled_sizes_are_real_qwen2_5_vl_configs_of_their_parameter_count(size: str, low: float, high: float) -> None:
    tokenizer = train_tokenizer(["I count 3 dots. \\boxed{3}"] * 20, vocab_size=300)
    config = model_config(SCALED_SPECS[size], tokenizer)
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    assert low < sum(p.numel() for p in model.parameters()) < high
    text = config.text_config
    assert text.hidden_size % text.num_attention_heads == 0 and text.num_attention_heads % text.num_key_value_heads == 0
