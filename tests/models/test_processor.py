"""Prompt encoding: image tokens expanded per image, never truncated, placeholders matched to images."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

from rethinker.data.schema import Example
from rethinker.models.processor import PromptTooLongError, VisionProcessor, processor_mismatches
from rethinker.models.prompts import TEMPLATES, build_messages, resolve_template


@pytest.fixture(scope="module")
def processor(tiny_dir: Path) -> VisionProcessor:
    return VisionProcessor.from_pretrained(tiny_dir)


def _image(width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), (123, 117, 104))


def test_each_image_expands_to_its_grid_token_count(processor: VisionProcessor) -> None:
    example = Example(
        id="x", question="Compare <image> with <image>.", answer="1", images=(_image(84, 84), _image(112, 56))
    )
    text = processor.render(build_messages(example, "plain"))
    encoded = processor.encode(text, list(example.images))
    pads = int((encoded.input_ids == processor.image_pad_id).sum())
    expected = sum(int(row.prod()) // 4 for row in encoded.image_grid_thw)
    assert pads == expected == 9 + 8


def test_over_long_prompt_is_an_error_not_a_truncation(processor: VisionProcessor) -> None:
    example = Example(id="x", question="How many dots?", answer="1", images=(_image(84, 84),))
    text = processor.render(build_messages(example))
    full = processor.encode(text, list(example.images))
    with pytest.raises(PromptTooLongError):
        processor.encode(text, list(example.images), max_length=full.length - 1)


def test_placeholder_count_must_match_images(processor: VisionProcessor) -> None:
    example = Example(id="bad", question="Look: <image> and <image>", answer="1", images=(_image(84, 84),))
    with pytest.raises(ValueError, match="bad"):
        build_messages(example)


def test_images_go_before_text_without_placeholders() -> None:
    example = Example(id="x", question="How many?", answer="1", images=(_image(84, 84), _image(84, 84)))
    content = build_messages(example, "default")[-1]["content"]
    assert [part["type"] for part in content] == ["image", "image", "text"]
    assert content[-1]["text"].startswith("How many?\n\nPlease reason step by step")


def test_pixel_bounds_override(tiny_dir: Path) -> None:
    small = VisionProcessor.from_pretrained(tiny_dir, max_pixels=56 * 56)
    encoded = small.encode(small.render([{"role": "user", "content": [{"type": "image"}]}]), [_image(400, 400)])
    assert int(encoded.image_grid_thw.prod()) * 14 * 14 <= 56 * 56


def test_templates_and_system_prompts() -> None:
    example = Example(id="x", question="Q?", answer="1", choices=("red", "blue"))
    messages = build_messages(example, "r1")
    assert messages[0]["role"] == "system" and "<think>" in messages[0]["content"]
    assert messages[1]["content"][-1]["text"] == "Q?\nA. red\nB. blue"
    assert resolve_template("Solve: {question}") == "Solve: {question}"
    assert "self-verification" in TEMPLATES["rethink"]
    with pytest.raises(ValueError, match="neither"):
        resolve_template("no placeholder here")


def test_mismatches_with_the_model_config_are_named(processor: VisionProcessor) -> None:
    matching = {"vision_config": {"patch_size": 14, "spatial_merge_size": 2}, "image_token_id": processor.image_pad_id}
    assert processor_mismatches(matching, processor.image_processor, processor.image_pad_id) == []
    other = {"vision_config": {"patch_size": 16, "spatial_merge_size": 2}, "image_token_id": processor.image_pad_id + 1}
    problems = processor_mismatches(other, processor.image_processor, processor.image_pad_id)
    assert [p.split(":")[0] for p in problems] == ["patch_size", "image_token_id"]


def test_a_tokenizer_without_the_image_token_is_refused(processor: VisionProcessor) -> None:
    plain = Tokenizer(models.WordLevel({"[UNK]": 0, "dots": 1}, unk_token="[UNK]"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=plain, unk_token="[UNK]")
    with pytest.raises(ValueError, match="image_pad"):
        VisionProcessor(tokenizer, processor.image_processor)
