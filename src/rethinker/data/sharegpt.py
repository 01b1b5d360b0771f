"""Supervised fine-tuning records from ShareGPT-style JSON/JSONL files.

Layouts read (`format`): `vision-r1-cold` and `llava-cot` (`{"id", "image", "conversations": [{"from", "value"}]}`),
`sharegpt` (`{"images", "conversations": [{"from", "value"}]}`), `mulberry` and `messages` (LLaMA-Factory style,
`{"images", "messages": [{"role", "content"}]}`), and `auto`, which takes whichever keys a row has. `<image>` in user
text marks where each image goes; a conversation with images and no placeholder gets them before its first user text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rethinker.data.errors import DataError, FieldError, location
from rethinker.data.loaders import image_sources, json_rows, jsonl_rows
from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import ImageSource

SFTFormat = Literal["auto", "vision-r1-cold", "llava-cot", "sharegpt", "mulberry", "messages"]
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
"""ShareGPT speaker names (either convention) mapped onto chat roles."""


@dataclass(frozen=True)
class Layout:
    """Where a layout keeps the images, the turns, and each turn's speaker and text."""

    images: str
    turns: str
    role: str
    content: str


_SHAREGPT_SINGLE = Layout(images="image", turns="conversations", role="from", content="value")
_SHAREGPT = Layout(images="images", turns="conversations", role="from", content="value")
_MESSAGES = Layout(images="images", turns="messages", role="role", content="content")
LAYOUTS: dict[str, Layout] = {
    "vision-r1-cold": _SHAREGPT_SINGLE,
    "llava-cot": _SHAREGPT_SINGLE,
    "sharegpt": _SHAREGPT,
    "mulberry": _MESSAGES,
    "messages": _MESSAGES,
}


@dataclass(frozen=True)
class SFTRecord:
    """One training conversation: its images, and system/user/assistant turns whose user text holds `<image>` marks.

    `origin` names the file and row (or the synthetic item) the record came from, for error messages.
    """

    id: str
    images: tuple[ImageSource, ...]
    messages: list[dict[str, str]]
    origin: str = ""


def _row_layout(row: dict[str, Any], data_format: SFTFormat) -> Layout:
    """The layout of one row: the named one, or for `auto` the keys the row actually has."""
    if data_format != "auto":
        return LAYOUTS[data_format]
    turns = "messages" if "messages" in row and "conversations" not in row else "conversations"
    images = "images" if "images" in row else "image"
    first = row.get(turns)
    sample = first[0] if isinstance(first, list) and first and isinstance(first[0], dict) else {}
    role = "role" if "role" in sample else "from"
    content = "content" if "content" in sample else "value"
    return Layout(images=images, turns=turns, role=role, content=content)


def _turn(turn: Any, layout: Layout, field: str) -> dict[str, str]:
    """One turn as `{"role", "content"}`, its speaker mapped onto a chat role."""
    if not isinstance(turn, dict):
        raise FieldError(field, f"expected an object, got {type(turn).__name__}")
    if layout.role not in turn:
        raise FieldError(f"{field}.{layout.role}", "speaker missing")
    speaker = turn[layout.role]
    if speaker not in ROLES:
        raise FieldError(f"{field}.{layout.role}", f"unknown role {speaker!r}; expected one of {sorted(ROLES)}")
    content = turn.get(layout.content)
    if not isinstance(content, str):
        raise FieldError(f"{field}.{layout.content}", f"expected a string, got {type(content).__name__}")
    return {"role": ROLES[speaker], "content": content}


def _check_turns(messages: list[dict[str, str]], field: str) -> None:
    """A system turn only first, a user turn before any answer, at least one answer, and images only in user text."""
    for index, message in enumerate(messages):
        if message["role"] == "system" and index != 0:
            raise FieldError(f"{field}[{index}]", "a system turn may only come first")
        if message["role"] != "user" and IMAGE_PLACEHOLDER in message["content"]:
            raise FieldError(f"{field}[{index}]", f"{IMAGE_PLACEHOLDER} outside a user turn")
    spoken = [m["role"] for m in messages if m["role"] != "system"]
    if not spoken or spoken[0] != "user":
        raise FieldError(field, "the conversation must start with a user turn")
    if "assistant" not in spoken:
        raise FieldError(field, "the conversation has no assistant turn to train on")


def place_images(messages: list[dict[str, str]], n_images: int, field: str) -> list[dict[str, str]]:
    """Check that the `<image>` marks match the images; with none, put every image before the first user text."""
    marks = sum(m["content"].count(IMAGE_PLACEHOLDER) for m in messages)
    if marks == n_images:
        return messages
    if marks:
        raise FieldError(field, f"{marks} {IMAGE_PLACEHOLDER} placeholders but {n_images} images")
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    placed = [dict(m) for m in messages]
    placed[first_user]["content"] = IMAGE_PLACEHOLDER * n_images + placed[first_user]["content"]
    return placed


def row_to_record(
    row: dict[str, Any], data_format: SFTFormat, *, default_id: str, origin: str, image_root: Path
) -> SFTRecord:
    """Map one raw row onto an `SFTRecord`; a bad value raises a `FieldError` naming its field."""
    layout = _row_layout(row, data_format)
    turns = row.get(layout.turns)
    if not isinstance(turns, list) or not turns:
        expected = "'conversations' or 'messages'" if data_format == "auto" else repr(layout.turns)
        raise FieldError(layout.turns, f"conversation missing or empty (expected a list of turns in {expected})")
    messages = [_turn(turn, layout, f"{layout.turns}[{i}]") for i, turn in enumerate(turns)]
    _check_turns(messages, layout.turns)
    images = image_sources(row.get(layout.images), layout.images, image_root)
    messages = place_images(messages, len(images), layout.turns)
    raw_id = row.get("id")
    record_id = default_id if raw_id is None else str(raw_id)
    return SFTRecord(id=record_id, images=images, messages=messages, origin=origin)


def _rows(path: Path) -> Iterator[dict[str, Any] | FieldError]:
    """Rows of a JSON-lines file, or of a JSON file holding a list of objects."""
    return jsonl_rows(path) if path.suffix.lower() == ".jsonl" else json_rows(path)


def load_sharegpt(
    path: str | Path, *, image_root: str | Path | None = None, format: SFTFormat = "auto"
) -> list[SFTRecord]:
    """Read SFT conversations from JSON or JSONL; a bad row raises a `DataError` naming file, row and field.

    Relative image paths resolve against `image_root`, else the data file's folder; every image file must exist.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if format not in LAYOUTS and format != "auto":
        raise DataError(f"{path}: unknown format {format!r}; choose auto or one of {sorted(LAYOUTS)}")
    root = Path(image_root) if image_root is not None else path.parent
    records = []
    for index, row in enumerate(_rows(path)):
        try:
            if isinstance(row, FieldError):
                raise row
            origin = location(path.name, index)
            records.append(
                row_to_record(row, format, default_id=f"{path.stem}-{index}", origin=origin, image_root=root)
            )
        except FieldError as error:
            raise DataError(f"{location(str(path), index, error.field)}: {error.reason}") from error
    return records
