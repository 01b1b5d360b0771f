"""The tiny model is a real Qwen2.5-VL that plain transformers loads and that generates."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from rethinker.models.processor import VisionProcessor
from rethinker.models.tiny import SPECIAL_TOKENS, TinySpec, model_config, train_tokenizer


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
