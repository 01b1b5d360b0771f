"""Worked solutions of the synthetic tasks as SFT conversations: the RL prompt answered step by step."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.sharegpt import SFTRecord
from rethinker.data.synthetic import FAMILIES, make_synthetic, worked_solution
from rethinker.data.teacher import EXACT_TEACHER, Teacher
from rethinker.models.prompts import build_messages


def chat_text(content: Sequence[dict[str, Any]] | str) -> str:
    """Structured chat content (text and image parts) as text with an `<image>` mark per image."""
    if isinstance(content, str):
        return content
    return "".join(IMAGE_PLACEHOLDER if part["type"] == "image" else part["text"] for part in content)


def synthetic_sft_records(
    n: int,
    seed: int,
    recheck_prob: float = 0.0,
    template: str | Sequence[str] = "default",
    *,
    split: str = "train",
    families: Sequence[str] = FAMILIES,
    image_size: int = 84,
    teacher: Teacher = EXACT_TEACHER,
) -> list[SFTRecord]:
    """`n` synthetic items as conversations: the RL prompt (`build_messages`) answered by a worked solution; given
    several templates, each conversation's prompt uses one drawn at random."""
    rng = random.Random(f"rethinker-sft:{split}:{seed}")
    templates = (template,) if isinstance(template, str) else tuple(template)
    records = []
    for example in make_synthetic(n, seed, split, families, image_size=image_size):
        chosen = templates[0] if len(templates) == 1 else rng.choice(templates)
        messages = [{"role": m["role"], "content": chat_text(m["content"])} for m in build_messages(example, chosen)]
        messages.append({"role": "assistant", "content": worked_solution(example, rng, recheck_prob, teacher)})
        records.append(SFTRecord(id=example.id, images=example.images, messages=messages, origin=example.id))
    return records
