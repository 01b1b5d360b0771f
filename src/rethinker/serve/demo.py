"""What the web demo needs from the server: example problems with inline images, templates and triggers."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from rethinker.data.synthetic import make_synthetic
from rethinker.models.prompts import SYSTEM_PROMPTS, question_with_choices, resolve_template
from rethinker.rollout.triggers import BARE_WAIT, SELF_CORRECTION, SELF_QUESTIONING, SELF_VERIFICATION

DEMO_TEMPLATES = ("default", "rethink", "r1")
DEMO_TRIGGERS = {
    "wait": BARE_WAIT,
    "self-questioning": SELF_QUESTIONING,
    "self-verification": SELF_VERIFICATION,
    "self-correction": SELF_CORRECTION,
}


def png_data_url(image: Image.Image) -> str:
    """An image as a `data:image/png;base64,...` URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def demo_examples(n: int = 5, seed: int = 0) -> list[dict[str, Any]]:
    """`n` synthetic eval problems, one per task family in turn, each with its image as a data URL."""
    examples = make_synthetic(n, seed, split="eval", image_size=112)
    return [
        {
            "id": example.id,
            "question": question_with_choices(example),
            "answer": example.answer,
            "image": png_data_url(example.images[0]),
        }
        for example in examples
    ]


def demo_settings(max_new_tokens: int) -> dict[str, Any]:
    """Instruction templates (user text with a literal `{question}`, and the system prompt), triggers and limits."""
    templates = {
        name: {"user": resolve_template(name).format(question="{question}"), "system": SYSTEM_PROMPTS.get(name)}
        for name in DEMO_TEMPLATES
    }
    return {"templates": templates, "triggers": DEMO_TRIGGERS, "max_new_tokens": max_new_tokens}
