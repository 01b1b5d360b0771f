"""The demo's data: example problems whose images decode, and templates that match the project's prompts."""

from __future__ import annotations

from rethinker.data.schema import Example
from rethinker.models.prompts import build_messages
from rethinker.serve.config import ServeConfig
from rethinker.serve.demo import demo_examples, demo_settings
from rethinker.serve.image_urls import decode_image_url


def test_examples_carry_decodable_images_and_answers() -> None:
    examples = demo_examples(n=5)
    assert len(examples) == 5 and len({example["id"] for example in examples}) == 5
    for example in examples:
        image = decode_image_url(example["image"], ServeConfig())
        assert image.size == (112, 112)
        assert example["answer"] and example["question"]


def test_templates_render_like_build_messages() -> None:
    settings = demo_settings(max_new_tokens=77)
    assert settings["max_new_tokens"] == 77
    question = "How many dots are there?"
    for name, template in settings["templates"].items():
        expected = build_messages(Example("q", question, "3"), template=name)
        text = template["user"].replace("{question}", question)
        assert expected[-1]["content"] == [{"type": "text", "text": text}]
        system = [message["content"] for message in expected if message["role"] == "system"]
        assert system == ([template["system"]] if template["system"] else [])
