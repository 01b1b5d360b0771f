"""Read the pipeline's input: a JSONL file of VQA records (`id`, `image` path(s), `question`, `answer`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import Example
from rethinker.jsonl import JsonlError, iter_jsonl


class VqaFileError(ValueError):
    """A VQA file, line or field that cannot be used; the message names all three."""


def text_field(row: dict[str, Any], name: str, where: str) -> str:
    """A required non-empty text field (numbers are accepted and written as text)."""
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise VqaFileError(f"{where} field '{name}': missing or not a string")
    text = str(value).strip()
    if not text:
        raise VqaFileError(f"{where} field '{name}': empty")
    return text


def image_refs(row: dict[str, Any], where: str) -> list[str]:
    """The `image` field as a non-empty list of path strings."""
    value = row.get("image")
    refs = [value] if isinstance(value, str) else value
    if not isinstance(refs, list) or not refs or not all(isinstance(ref, str) and ref.strip() for ref in refs):
        raise VqaFileError(f"{where} field 'image': expected a path or a non-empty list of paths")
    return refs


def parse_row(row: dict[str, Any], where: str, image_root: Path) -> Example:
    """One JSONL record as an example whose images are resolved paths that exist."""
    refs = image_refs(row, where)
    paths = tuple(image_root / ref for ref in refs)
    for index, path in enumerate(paths):
        if not path.is_file():
            raise VqaFileError(f"{where} field 'image[{index}]': no such file {path}")
    question = text_field(row, "question", where)
    placeholders = question.count(IMAGE_PLACEHOLDER)
    if placeholders not in (0, len(paths)):
        raise VqaFileError(
            f"{where} field 'question': {placeholders} {IMAGE_PLACEHOLDER} placeholders for {len(paths)} images"
        )
    return Example(
        id=text_field(row, "id", where),
        question=question,
        answer=text_field(row, "answer", where),
        images=paths,
        metadata={"image_refs": refs},
    )


def read_vqa_jsonl(path: Path, image_root: Path | None = None, limit: int | None = None) -> list[Example]:
    """All examples of a VQA JSONL file (blank lines skipped); relative image paths resolve against `image_root`."""
    root = image_root if image_root is not None else path.parent
    examples: list[Example] = []
    first_line_of: dict[str, int] = {}
    try:
        for line_number, row in iter_jsonl(path):
            if limit is not None and len(examples) >= limit:
                break
            where = f"{path} line {line_number}"
            example = parse_row(row, where, root)
            if example.id in first_line_of:
                raise VqaFileError(f"{where} field 'id': {example.id!r} repeats line {first_line_of[example.id]}")
            first_line_of[example.id] = line_number
            examples.append(example)
    except JsonlError as error:
        raise VqaFileError(str(error)) from error
    except (OSError, UnicodeDecodeError) as error:
        raise VqaFileError(f"cannot read {path}: {error}") from error
    return examples


def plain_question(question: str) -> str:
    """The question without `<image>` placeholders, for prompts whose images travel as separate message parts."""
    return re.sub(r"[ \t]*<image>[ \t]*", " ", question).strip()


def sharegpt_record(example: Example, response: str) -> dict[str, Any]:
    """A ShareGPT-style training record; the human turn carries one `<image>` per image."""
    refs = list(example.metadata["image_refs"])
    question = example.question
    if question.count(IMAGE_PLACEHOLDER) != len(refs):
        question = IMAGE_PLACEHOLDER * len(refs) + question
    return {
        "id": example.id,
        "images": refs,
        "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": response}],
    }
