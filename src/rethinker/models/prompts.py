"""Instruction templates (data, not code) and chat messages with images placed where the question puts them."""

from __future__ import annotations

import re
import string
from typing import Any

from rethinker.data.schema import Example
from rethinker.errors import UserError

TEMPLATES: dict[str, str] = {
    "default": "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    "rethink": (
        "{question}\n\nGuidelines: \nPlease think step by step, and **regularly perform self-questioning, "
        "self-verification, self-correction to check your ongoing reasoning**, using connectives such as "
        '"Wait a moment", "Wait, does it seem right?", etc. Remember to put your final answer within \\boxed{{}}.'
    ),
    "r1": "{question}",
    "plain": "{question}",
}
SYSTEM_PROMPTS: dict[str, str] = {
    "r1": (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
        "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
        "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
        "respectively, "
        "i.e., <think> reasoning process here </think><answer> answer here </answer>."
    ),
}
_PLACEHOLDER = re.compile(r"<image\s*\d*>")


def run_template(setting: object) -> object:
    """The template a run's config records: an SFT run drawing from several templates answers to the first of them."""
    if isinstance(setting, list) and setting and all(isinstance(item, str) for item in setting):
        return setting[0]
    return setting


def resolve_template(name_or_text: str) -> str:
    """A named template, or a user-supplied template string that contains `{question}`."""
    if name_or_text in TEMPLATES:
        return TEMPLATES[name_or_text]
    if "{question}" not in name_or_text:
        raise UserError(
            f"template {name_or_text!r} is neither a known name {sorted(TEMPLATES)} nor contains {{question}}"
        )
    return name_or_text


def question_with_choices(example: Example) -> str:
    """The question text, followed by its lettered choices unless the question already lists them."""
    lines = [f"{letter}. {choice}" for letter, choice in zip(string.ascii_uppercase, example.choices, strict=False)]
    if all(line in example.question for line in lines):
        return example.question
    return example.question + "\n" + "\n".join(lines)


def build_messages(
    example: Example, template: str = "default", system: str | None = None, question: str | None = None
) -> list[dict[str, Any]]:
    """Chat messages for `example`: images where `<image>` placeholders stand, else before the text.

    `system` is a named system prompt or literal text; the `r1` template brings the R1 system prompt unless one is
    given.
    """
    if system is None and template == "r1":
        system = "r1"
    text = resolve_template(template).format(
        question=question if question is not None else question_with_choices(example)
    )
    pieces = _PLACEHOLDER.split(text)
    n_placeholders = len(pieces) - 1
    n_images = len(example.images)
    if n_placeholders not in (0, n_images):
        raise UserError(f"example {example.id}: {n_placeholders} image placeholders but {n_images} images")
    content: list[dict[str, Any]] = []
    if n_placeholders == 0:
        content.extend({"type": "image"} for _ in range(n_images))
        content.append({"type": "text", "text": text})
    else:
        for i, piece in enumerate(pieces):
            if piece:
                content.append({"type": "text", "text": piece})
            if i < n_placeholders:
                content.append({"type": "image"})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": SYSTEM_PROMPTS.get(system, system)})
    messages.append({"role": "user", "content": content})
    return messages
