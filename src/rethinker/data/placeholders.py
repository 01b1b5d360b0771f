"""Numbered image markers (`<image1>`, `<image 2>`...) in published questions, read as a careful person would.

MATH-V and similar sets number their figures. When the first mention of each number 1..n (for n images) appears in
order, that mention is where image n goes (`<image>`) and later mentions become plain labels (`[image1]`). Otherwise
the numbers name panels inside fewer pictures (MATH-V merges each problem's figures into one): the first marker takes
the first picture only when there is exactly one, and every other marker becomes a plain label.
"""

from __future__ import annotations

import re

IMAGE_PLACEHOLDER = "<image>"
"""Where an image goes in question or chat text."""
NUMBERED_MARKER = re.compile(r"<image\s*(\d+)>")


def place_numbered_images(question: str, n_images: int) -> str:
    """The question with numbered markers turned into `<image>` slots (one per image) and `[imageN]` labels."""
    numbers = [int(match.group(1)) for match in NUMBERED_MARKER.finditer(question)]
    if not numbers:
        return question
    first_mentions = list(dict.fromkeys(numbers))
    if first_mentions == list(range(1, n_images + 1)):
        slots = set(range(1, n_images + 1))
    elif n_images == 1:
        slots = {numbers[0]}
    else:
        slots = set()

    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number in slots:
            slots.discard(number)
            return IMAGE_PLACEHOLDER
        return f"[image{number}]"

    return NUMBERED_MARKER.sub(replace, question)
