"""Read examples from JSONL, JSON, Parquet or a saved HF `datasets` directory, with configurable column names."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rethinker.data.errors import DataError, FieldError, location
from rethinker.data.placeholders import place_numbered_images
from rethinker.data.schema import Example, ImageSource
from rethinker.jsonl import JsonlError, jsonl_entries

logger = logging.getLogger(__name__)

DataFormat = Literal["jsonl", "json", "parquet", "hf"]
OnError = Literal["raise", "skip"]
RowTransform = Callable[[Example], Example]

SKIP_WARNINGS_SHOWN = 20
"""How many skipped rows are logged one by one before only the summary is."""

_SUFFIX_FORMATS: dict[str, DataFormat] = {".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}
_BATCH_ROWS = 256


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds each field of an `Example`; `None` means the data has no such column.

    `question` and `answer` are required; a named `images` column must exist in every row (an empty list or null
    means a text-only row); `id` and `choices` may be absent from a row. `metadata` lists the columns copied into
    `Example.metadata`; `None` copies every column not used above.
    """

    question: str = "question"
    answer: str = "answer"
    id: str | None = "id"
    images: str | None = "images"
    choices: str | None = "choices"
    metadata: tuple[str, ...] | None = None

    def used(self) -> set[str]:
        """The column names mapped onto `Example` fields."""
        return {name for name in (self.question, self.answer, self.id, self.images, self.choices) if name is not None}


DEFAULT_COLUMNS = ColumnMap()
GEOMETRY3K_COLUMNS = ColumnMap(question="problem", answer="answer", id=None, images="images", choices=None)
COLUMN_PRESETS: dict[str, ColumnMap] = {"default": DEFAULT_COLUMNS, "geometry3k": GEOMETRY3K_COLUMNS}
"""Column layouts by name: `default` (id, question, answer, images, choices) and `geometry3k` (EasyR1 style)."""


def column_map(columns: dict) -> ColumnMap:
    """A `ColumnMap` from config: `{"preset": "geometry3k"}` and/or explicit column names."""
    fields = dict(columns)
    preset_name = fields.pop("preset", "default")
    unknown = sorted(set(fields) - set(ColumnMap.__dataclass_fields__))
    if preset_name not in COLUMN_PRESETS or unknown:
        raise DataError(
            f"columns: unknown preset {preset_name!r} or keys {unknown}; presets are {', '.join(COLUMN_PRESETS)}, "
            f"keys preset, {', '.join(ColumnMap.__dataclass_fields__)}"
        )
    preset = COLUMN_PRESETS[preset_name]
    if "metadata" in fields and fields["metadata"] is not None:
        fields["metadata"] = tuple(fields["metadata"])
    return ColumnMap(**{**preset.__dict__, **fields})


@dataclass(frozen=True)
class LoadResult:
    """The examples read from a file, and one reason per skipped row."""

    examples: list[Example]
    skipped: list[str] = field(default_factory=list)


def infer_format(path: Path) -> DataFormat:
    """The format of `path` from its suffix, or `hf` for a directory written by `Dataset.save_to_disk`."""
    if path.is_dir():
        if any((path / name).is_file() for name in ("state.json", "dataset_dict.json", "dataset_info.json")):
            return "hf"
        raise DataError(f"{path}: directory is not a saved HF datasets directory (no state.json or dataset_dict.json)")
    if path.suffix.lower() in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[path.suffix.lower()]
    raise DataError(f"{path}: cannot infer the format from the suffix; pass format= one of jsonl, json, parquet, hf")


def jsonl_rows(path: Path) -> Iterator[dict[str, Any] | FieldError]:
    """Rows of a JSON-lines file, blank lines ignored; a line that is not a JSON object yields its error."""
    for _, entry in jsonl_entries(path):
        if isinstance(entry, JsonlError):
            yield FieldError("<line>", f"invalid JSON: {entry.__cause__}" if entry.__cause__ else entry.reason)
        else:
            yield entry


def json_rows(path: Path) -> Iterator[dict[str, Any] | FieldError]:
    """Rows of a JSON file holding a list of objects."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON: {error}") from error
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of objects, got {type(rows).__name__}")
    for row in rows:
        yield row if isinstance(row, dict) else FieldError("<row>", f"not an object: {type(row).__name__}")


def _require_columns(path: Path, available: list[str], columns: ColumnMap) -> None:
    """Fail at once, whatever `on_error` says, when a columnar file lacks a required column."""
    for name in (columns.question, columns.answer, columns.images):
        if name is not None and name not in available:
            raise DataError(f"{location(str(path), 0, name)}: column missing; the file has columns {available}")


def _parquet_rows(path: Path, columns: ColumnMap) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file, read in small batches."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: not a readable Parquet file ({error})") from error
    _require_columns(path, parquet.schema_arrow.names, columns)
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
        yield from batch.to_pylist()


def _hf_rows(path: Path, columns: ColumnMap, split: str | None) -> Iterator[dict[str, Any]]:
    """Rows of a saved HF dataset, read as raw Arrow so image columns stay undecoded `{"bytes", "path"}` dicts."""
    from datasets import DatasetDict, load_from_disk

    dataset = load_from_disk(str(path))
    if isinstance(dataset, DatasetDict):
        if split is None and len(dataset) != 1:
            raise DataError(f"{path}: the dataset has splits {list(dataset)}; pass split=")
        dataset = dataset[split] if split is not None else next(iter(dataset.values()))
    _require_columns(path, dataset.column_names, columns)
    for table in dataset.with_format("arrow").iter(batch_size=_BATCH_ROWS):
        yield from table.to_pylist()


def _text(value: Any, name: str) -> str:
    """A string field; numbers are accepted and written out, anything else is a `FieldError`."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldError(name, f"expected a string, got {type(value).__name__}")


def _image_source(value: Any, name: str, image_root: Path) -> ImageSource:
    """One image entry (a path, raw bytes or an HF `{"bytes", "path"}` dict) as bytes or an existing file path."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return _image_source(value["bytes"], name, image_root)
        if value.get("path"):
            return _image_source(value["path"], name, image_root)
        raise FieldError(name, "image dict holds neither bytes nor a path")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        if not value:
            raise FieldError(name, "empty image path")
        path = Path(value)
        path = path if path.is_absolute() else image_root / path
        if not path.is_file():
            raise FieldError(name, f"image file not found: {path}")
        return path
    raise FieldError(name, f"expected an image path, bytes or {{'bytes', 'path'}} dict, got {type(value).__name__}")


def image_sources(value: Any, name: str, image_root: Path) -> tuple[ImageSource, ...]:
    """The images of a row: one entry or a list of entries; null or an empty list for none."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(_image_source(item, f"{name}[{index}]", image_root) for index, item in enumerate(value))
    if isinstance(value, str | bytes | bytearray | dict):
        return (_image_source(value, name, image_root),)
    raise FieldError(name, f"expected an image or a list of images, got {type(value).__name__}")


def _choices(value: Any, name: str) -> tuple[str, ...]:
    """The option texts of a multiple-choice row; null for none."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise FieldError(name, f"expected a list of option texts, got {type(value).__name__}")
    return tuple(_text(item, f"{name}[{index}]") for index, item in enumerate(value))


def _required(row: Mapping[str, Any], name: str) -> Any:
    """The value of a column every row must have."""
    if name not in row:
        raise FieldError(name, "column missing")
    return row[name]


def row_to_example(
    row: Mapping[str, Any], columns: ColumnMap, *, default_id: str, origin: str, image_root: Path
) -> Example:
    """Map one raw row onto an `Example`; a bad value raises a `FieldError` naming its column."""
    question = _text(_required(row, columns.question), columns.question)
    answer_value = _required(row, columns.answer)
    if answer_value is None:
        raise FieldError(columns.answer, "gold answer is null; give every row its answer or drop the row")
    answer = _text(answer_value, columns.answer)
    if not answer.strip():
        raise FieldError(columns.answer, "empty gold answer; give every row its answer or drop the row")
    if not question.strip():
        raise FieldError(columns.question, "empty question")
    images = () if columns.images is None else image_sources(_required(row, columns.images), columns.images, image_root)
    choices = () if columns.choices is None else _choices(row.get(columns.choices), columns.choices)
    raw_id = row.get(columns.id) if columns.id is not None else None
    example_id = default_id if raw_id is None else _text(raw_id, columns.id or "id")
    extra = columns.metadata if columns.metadata is not None else [key for key in row if key not in columns.used()]
    metadata = {"origin": origin, **{key: row.get(key) for key in extra}}
    question = place_numbered_images(question, len(images))
    return Example(id=example_id, question=question, answer=answer, images=images, choices=choices, metadata=metadata)


def _rows(path: Path, data_format: DataFormat, columns: ColumnMap, split: str | None) -> Iterator[Any]:
    """Raw rows of a data file in its format."""
    if data_format == "jsonl":
        return jsonl_rows(path)
    if data_format == "json":
        return json_rows(path)
    if data_format == "parquet":
        return _parquet_rows(path, columns)
    return _hf_rows(path, columns, split)


def load_examples(
    path: str | Path,
    *,
    format: DataFormat | None = None,
    columns: ColumnMap = DEFAULT_COLUMNS,
    image_root: str | Path | None = None,
    on_error: OnError = "raise",
    limit: int | None = None,
    split: str | None = None,
    transform: RowTransform | None = None,
) -> LoadResult:
    """Read examples from a data file, keeping images as paths or bytes (decoded later, when a batch needs them).

    Relative image paths resolve against `image_root`, else the data file's folder. A bad row raises a `DataError`
    naming the file, row index and field; with `on_error="skip"` it is skipped, logged and listed in `skipped`.
    `transform` post-processes each example and may raise `FieldError` like any other row check.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    data_format = format or infer_format(path)
    root = Path(image_root) if image_root is not None else (path if path.is_dir() else path.parent)
    examples: list[Example] = []
    skipped: list[str] = []
    for index, row in enumerate(_rows(path, data_format, columns, split)):
        if limit is not None and len(examples) >= limit:
            break
        origin = location(path.name, index)
        try:
            if isinstance(row, FieldError):
                raise row
            example = row_to_example(row, columns, default_id=f"{path.stem}-{index}", origin=origin, image_root=root)
            examples.append(transform(example) if transform is not None else example)
        except FieldError as error:
            message = f"{location(str(path), index, error.field)}: {error.reason}"
            if on_error == "raise":
                raise DataError(message) from error
            skipped.append(message)
            if len(skipped) <= SKIP_WARNINGS_SHOWN:
                logger.warning("skipping %s", message)
    if skipped:
        logger.warning("%s: skipped %d bad rows, kept %d", path, len(skipped), len(examples))
    return LoadResult(examples=examples, skipped=skipped)
