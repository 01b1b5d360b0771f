"""Reading MEGA-Bench's released task rows (one per query) into examples, with their media, answers and metric info.

A row holds `task_name`, `task_description`, `global_media`, `example_text`, `example_media`, `query_text`,
`query_media`, `answer` (a dict of answer fields, or its Python-literal text), `metric_info` and `eval_context` (dicts
or their literal text), and optionally `id`. Texts mark media with `<image>` / `<video>` tags, one per media path.
A video is read as its extracted frames: a folder of images (the path itself, or the video path without its suffix).
Task keywords (skills, input/output format, number of inputs, application) come from the row or an
`all_task_meta.json` file (task name -> keywords) in the loaded folder.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import Example
from rethinker.eval.suites._source import (
    DATA_SUFFIXES,
    HF_SAVED_MARKERS,
    BenchmarkDataError,
    SourceRow,
    read_rows,
)
from rethinker.eval.suites.megabench.metrics.convert import is_number
from rethinker.eval.suites.megabench.parsing import SINGLE_FIELD_PARSERS, Parser

TASK_META_FILE = "all_task_meta.json"
KEYWORD_FIELDS = ("skills", "input_format", "output_format", "num_input", "app")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
MAX_VIDEO_FRAMES = 16
MEDIA_TAG = re.compile(r"<image>|<video>")
AGGREGATIONS = ("mean", "min")
MAX_FIELD_CHARS = 10_000_000


def structured(row: SourceRow, field: str, kind: type) -> Any:
    """A dict or list column given as a value or as its JSON / Python-literal text, checked to be of `kind`."""
    value = row.fields.get(field)
    if value is None or value == "":
        return kind()
    if isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            raise BenchmarkDataError(f"{row.where(field)}: text longer than {MAX_FIELD_CHARS} characters")
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
                raise BenchmarkDataError(f"{row.where(field)}: not a {kind.__name__} literal ({error})") from error
    if not isinstance(value, kind):
        raise BenchmarkDataError(f"{row.where(field)}: expected a {kind.__name__}, got {type(value).__name__}")
    return value


def checked_metric_info(row: SourceRow, answer: Mapping[str, Any]) -> dict[str, Any]:
    """The row's metric info, checked: score functions, a known aggregation with weights, a known parser."""
    info = structured(row, "metric_info", dict)
    scores = info.get("field_score_function")
    if not isinstance(scores, dict):
        raise BenchmarkDataError(f"{row.where('metric_info')}: missing the 'field_score_function' mapping")
    aggregation = info.get("aggregation")
    if not isinstance(aggregation, dict) or aggregation.get("function") not in AGGREGATIONS:
        raise BenchmarkDataError(
            f"{row.where('metric_info')}: 'aggregation.function' must be one of {', '.join(AGGREGATIONS)}"
        )
    weights = aggregation.get("field_weights") or {}
    bad = {field: weight for field, weight in weights.items() if not is_number(weight) or weight < 0}
    if bad:
        raise BenchmarkDataError(f"{row.where('metric_info')}: field weights must be finite numbers >= 0, got {bad}")
    if aggregation["function"] == "mean":
        missing = [field for field in [*answer, *info.get("global_aux_metrics", {})] if field not in weights]
        if missing:
            raise BenchmarkDataError(f"{row.where('metric_info')}: no 'aggregation.field_weights' for {missing}")
    parser = info.get("response_parse_function") or Parser.JSON.value
    if parser not in {item.value for item in Parser}:
        raise BenchmarkDataError(f"{row.where('metric_info')}: unknown response_parse_function {parser!r}")
    if Parser(parser) in SINGLE_FIELD_PARSERS:
        if len([field for field in answer if not str(field).startswith("##")]) != 1:
            raise BenchmarkDataError(f"{row.where('answer')}: the {parser} parser needs exactly one answer field")
    return {**info, "response_parse_function": parser}


def _media_path(row: SourceRow, field: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise BenchmarkDataError(f"{row.where(field)}: media entries must be file paths, got {value!r}")
    relative = Path(value.removeprefix("./"))
    names = [relative, relative.with_suffix("")] if relative.suffix.lower() in VIDEO_SUFFIXES else [relative]
    for folder in (row.root, row.file.parent if row.file.is_file() else row.file):
        for name in names:
            if (folder / name).exists():
                return folder / name
    raise BenchmarkDataError(f"{row.where(field)}: media file '{value}' not found under {row.root}")


def video_frames(row: SourceRow, field: str, path: Path) -> list[Path]:
    """The extracted frames of a video (a folder of images), at most `MAX_VIDEO_FRAMES`, evenly spaced, in order."""
    folder = path if path.is_dir() else path.with_suffix("")
    frames = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not frames:
        raise BenchmarkDataError(
            f"{row.where(field)}: video '{path.name}' needs its frames extracted as images into folder '{folder}'"
        )
    if len(frames) > MAX_VIDEO_FRAMES:
        step = len(frames) / MAX_VIDEO_FRAMES
        frames = [frames[int(index * step)] for index in range(MAX_VIDEO_FRAMES)]
    return frames


def text_with_media(row: SourceRow, text_field: str, media_field: str) -> tuple[str, list[Path]]:
    """A text with each `<image>` / `<video>` tag replaced by one image placeholder per image or video frame."""
    text = row.text(text_field)
    media = structured(row, media_field, list)
    tags = MEDIA_TAG.findall(text)
    if len(tags) != len(media):
        raise BenchmarkDataError(
            f"{row.where(media_field)}: {len(media)} media file(s) but {len(tags)} <image>/<video> tag(s) in "
            f"'{text_field}'"
        )
    images: list[Path] = []
    pieces = MEDIA_TAG.split(text)
    rebuilt = [pieces[0]]
    for value, piece in zip(media, pieces[1:], strict=True):
        path = _media_path(row, media_field, value)
        is_video = path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES
        frames = video_frames(row, media_field, path) if is_video else [path]
        images.extend(frames)
        rebuilt.extend([IMAGE_PLACEHOLDER * len(frames), piece])
    return "".join(rebuilt), images


def task_keywords(row: SourceRow, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The task's keywords from the row's own columns, else from the task-meta file."""
    from_file = meta.get(row.text("task_name"), {})
    return {field: row.fields.get(field) or from_file.get(field) for field in KEYWORD_FIELDS}


def example_from_row(row: SourceRow, meta: Mapping[str, Any]) -> Example:
    """One MEGA-Bench query as an example: description, demonstration and query, with their media in order."""
    task = str(row.require("task_name")).strip()
    if not task:
        raise BenchmarkDataError(f"{row.where('task_name')}: empty task name")
    answer = structured(row, "answer", dict)
    if not answer:
        raise BenchmarkDataError(f"{row.where('answer')}: the answer holds no field")
    info = checked_metric_info(row, answer)
    parts = [
        text_with_media(row, text, media)
        for text, media in (
            ("task_description", "global_media"),
            ("example_text", "example_media"),
            ("query_text", "query_media"),
        )
    ]
    demo_text, demo_images = parts[1]
    answer_fields = [field for field in answer if not str(field).startswith("##")]
    return Example(
        id=str(row.fields.get("id") if row.fields.get("id") not in (None, "") else f"{task}_{row.index}"),
        question="\n\n".join(text.strip() for text, _ in parts if text.strip()),
        answer=str(answer[answer_fields[0]]) if len(answer_fields) == 1 else json.dumps(answer, ensure_ascii=False),
        images=tuple(image for _, images in parts for image in images),
        metadata={
            "task_name": task,
            "answer_fields": answer,
            "metric_info": info,
            "eval_context": structured(row, "eval_context", dict),
            "query_text": row.text("query_text"),
            "num_demo": int(bool(demo_text.strip() or demo_images)),
            "keywords": task_keywords(row, meta),
            "source": row.where(),
        },
    )


def load_task_meta(folder: Path) -> dict[str, Any]:
    """The task-name -> keywords mapping of `all_task_meta.json` in `folder`, or {} when there is none."""
    path = folder / TASK_META_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise BenchmarkDataError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(meta, dict):
        raise BenchmarkDataError(f"{path}: expected an object of task name -> keywords")
    return meta


def task_rows(path: Path, limit: int | None) -> list[SourceRow]:
    """The task rows of a file, a `save_to_disk` folder, or a folder tree of task files (the task-meta file skipped)."""
    if path.is_file() or any((path / marker).exists() for marker in HF_SAVED_MARKERS):
        return read_rows(path, limit)
    files = sorted(p for p in path.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file() and p.name != TASK_META_FILE)
    if not files:
        raise BenchmarkDataError(f"{path}: no {', '.join(DATA_SUFFIXES)} task files inside")
    rows: list[SourceRow] = []
    for file in files:
        remaining = None if limit is None else limit - len(rows)
        if remaining == 0:
            break
        rows += [SourceRow(row.file, row.index, row.fields, path) for row in read_rows(file, remaining)]
    return rows


def load_examples(path: Path, limit: int | None = None) -> list[Example]:
    """MEGA-Bench examples from a task file or a folder of them, with task keywords from the folder's meta file."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkDataError(f"{path}: no such file or folder")
    meta = load_task_meta(path if path.is_dir() else path.parent)
    examples = [example_from_row(row, meta) for row in task_rows(path, limit)]
    seen: dict[str, str] = {}
    for example in examples:
        if example.id in seen:
            raise BenchmarkDataError(f"{example.metadata['source']}: id {example.id!r} repeats {seen[example.id]}")
        seen[example.id] = str(example.metadata["source"])
    return examples
