"""MATH-V problems from their published files (JSONL, parquet, an HF `datasets` folder), and the official query.

Each problem has one (merged) picture. Its question (and, for picture options, its options) marks figures with
`<image1>`, `<image2>`...; the first marker becomes the project's `<image>` placeholder (where the picture goes) and
the others, which name panels inside that same picture, become the plain labels `[image2]`... so that prompt builders
count exactly one image slot. The published texts stay in `metadata` (`raw_question`, `raw_options`). An image
file that is not on disk is kept as a path: scoring saved responses needs no pictures, and decoding fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import Example, ImageSource
from rethinker.eval.suites._source import BenchmarkDataError, SourceRow, image_source, read_rows
from rethinker.models.prompts import resolve_template

OFFICIAL_INSTRUCTION = (
    "Please first solve the problem step by step, then put your final answer or a single letter "
    '(if it is a multiple choice question) in one "\\boxed{}". \n'
)
OPTION_LETTERS = "ABCDE"
NUMBERED_IMAGE = re.compile(r"<image(\d+)>")
EMBEDDED_IMAGE_FIELD = "decoded_image"
IMAGE_PATH_FIELD = "image"


def place_image(texts: Sequence[str], has_image: bool) -> list[str]:
    """Texts (question, then options) with the first `<imageN>` as `<image>` (given a picture), the rest `[imageN]`."""
    first = has_image

    def replace(match: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return IMAGE_PLACEHOLDER
        return f"[image{match.group(1)}]"

    return [NUMBERED_IMAGE.sub(replace, text) for text in texts]


def _image(row: SourceRow) -> ImageSource | None:
    """The embedded picture (HF parquet / datasets), else the picture's path beside the data file (may be absent)."""
    embedded = image_source(row, EMBEDDED_IMAGE_FIELD)
    if embedded is not None:
        return embedded
    relative = row.text(IMAGE_PATH_FIELD)
    if not relative:
        return None
    folder = row.file if row.file.is_dir() else row.file.parent
    return Path(relative) if Path(relative).is_absolute() else folder / relative


def _options(row: SourceRow) -> tuple[str, ...]:
    options = row.fields.get("options") or []
    if not isinstance(options, list | tuple) or len(options) not in (0, len(OPTION_LETTERS)):
        raise BenchmarkDataError(f"{row.where('options')}: expected no options or {len(OPTION_LETTERS)}")
    return tuple(str(option) for option in options)


def _example(row: SourceRow) -> Example:
    question, options = row.text("question"), _options(row)
    image = _image(row)
    metadata: dict[str, Any] = {
        "level": int(row.require("level")),
        "subject": row.text("subject"),
        "solution": row.fields.get("solution"),
        "raw_question": question,
        "raw_options": options,
    }
    placed_question, *placed_options = place_image([question, *options], image is not None)
    return Example(
        id=str(row.require("id")),
        question=placed_question,
        answer=str(row.require("answer")),
        images=() if image is None else (image,),
        choices=tuple(placed_options),
        metadata=metadata,
    )


def load(path: Path, limit: int | None = None) -> list[Example]:
    """MATH-V problems from a split's JSONL or parquet file, or an HF `save_to_disk` folder, in file order."""
    return [_example(row) for row in read_rows(Path(path), limit)]


def question_with_options(example: Example) -> str:
    """The question followed by its options as the official code writes them: "(A) ...", one per line."""
    options = "".join(f"({letter}) {option}\n" for letter, option in zip(OPTION_LETTERS, example.choices, strict=False))
    return f"{example.question}\n{options}"


def build_prompt(example: Example, template: str | None = None) -> str:
    """The official MATH-V query (instruction, question, options), or a named/user template filled with the question."""
    if template is None:
        return OFFICIAL_INSTRUCTION + question_with_options(example)
    return resolve_template(template).format(question=question_with_options(example).rstrip("\n"))
