"""Reading benchmark rows from their published files (JSON, JSONL, parquet, HF `datasets` folders) and their images."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image

from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import ImageSource
from rethinker.errors import UserError

DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
HF_SAVED_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
MAX_LITERAL_CHARS = 100_000


class BenchmarkDataError(UserError):
    """A benchmark file or row that cannot be read; the message names the file, the row and the reason."""


@dataclass(frozen=True)
class SourceRow:
    """One published row: the file it came from, its index there, and the folder the benchmark was loaded from.

    Relative image paths resolve against the row's folder, then the loaded folder, then an `images/` folder in either.
    """

    file: Path
    index: int
    fields: dict[str, Any]
    root: Path

    def where(self, field: str | None = None) -> str:
        """A readable location such as "testmini.json row 17 field 'image'"."""
        place = f"{self.file} row {self.index}"
        return f"{place} field '{field}'" if field else place

    def require(self, field: str) -> Any:
        """The value of a field that must be present, or a `BenchmarkDataError` naming the row."""
        if field not in self.fields:
            raise BenchmarkDataError(f"{self.where(field)}: missing column (columns: {sorted(self.fields)})")
        return self.fields[field]

    def text(self, field: str, default: str = "") -> str:
        """A text field as a string (None and absent fields read as `default`)."""
        value = self.fields.get(field)
        return default if value is None else str(value)


def read_rows(path: Path, limit: int | None = None, split: str | None = None) -> list[SourceRow]:
    """Rows of a benchmark file or folder, in file order, at most `limit` of them.

    A folder is either an HF `save_to_disk` folder (read with `datasets`), or a tree of published data files (an HF hub
    snapshot), read in sorted order; with `split`, only files whose name or parent folder starts with it are read.
    """
    path = Path(path)
    if not path.exists():
        raise BenchmarkDataError(f"{path}: no such file or folder")
    rows: list[SourceRow] = []
    root = path if path.is_dir() else path.parent
    for row in _iter_rows(path, root, split):
        if limit is not None and len(rows) >= limit:
            break
        rows.append(row)
    if not rows and limit != 0:
        raise BenchmarkDataError(
            f"{path}: no rows; the benchmark file is empty (check --data points at the right file)"
        )
    return rows


def _iter_rows(path: Path, root: Path, split: str | None) -> Iterator[SourceRow]:
    if path.is_file():
        yield from _iter_file(path, root)
    elif any((path / marker).exists() for marker in HF_SAVED_MARKERS):
        yield from _iter_hf_saved(path, split)
    else:
        for file in _data_files(path, split):
            yield from _iter_file(file, root)


def _data_files(folder: Path, split: str | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)
    if split is not None:
        chosen = [p for p in files if p.name.startswith(split) or p.parent.name.startswith(split)]
        files = chosen or files
    if not files:
        raise BenchmarkDataError(f"{folder}: no {', '.join(DATA_SUFFIXES)} files inside")
    return files


def _iter_file(file: Path, root: Path) -> Iterator[SourceRow]:
    if file.suffix == ".parquet":
        index = 0
        for batch in pq.ParquetFile(file).iter_batches(batch_size=64):
            for fields in batch.to_pylist():
                yield SourceRow(file, index, fields, root)
                index += 1
    elif file.suffix == ".jsonl":
        with file.open(encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if line.strip():
                    yield SourceRow(file, index, _as_record(_json_value(line, file, index), file, index), root)
    elif file.suffix == ".json":
        data = _json_value(file.read_text(encoding="utf-8"), file, None)
        records = list(data.values()) if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise BenchmarkDataError(f"{file}: expected a list of records or a mapping of id to record")
        for index, record in enumerate(records):
            yield SourceRow(file, index, _as_record(record, file, index), root)
    else:
        raise BenchmarkDataError(f"{file}: unsupported file type (expected one of {', '.join(DATA_SUFFIXES)})")


def _json_value(text: str, file: Path, index: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        place = file if index is None else f"{file} row {index}"
        raise BenchmarkDataError(f"{place}: not valid JSON ({error})") from error


def _as_record(value: Any, file: Path, index: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BenchmarkDataError(f"{file} row {index}: expected a JSON object, got {type(value).__name__}")
    return value


def _iter_hf_saved(folder: Path, split: str | None) -> Iterator[SourceRow]:
    import datasets

    loaded = datasets.load_from_disk(str(folder))
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded)
        name = split if split in loaded else (names[0] if len(names) == 1 else None)
        if name is None:
            raise BenchmarkDataError(f"{folder}: several splits {names}; pass a split folder or one of them")
        loaded = loaded[name]
    for column, feature in loaded.features.items():
        if isinstance(feature, datasets.Image):
            loaded = loaded.cast_column(column, datasets.Image(decode=False))
    for index, fields in enumerate(loaded):
        yield SourceRow(folder, index, dict(fields), folder)


def image_source(row: SourceRow, field: str) -> ImageSource | None:
    """The image in `field` as a path or encoded bytes (kept undecoded), or None where the row has none."""
    value = row.fields.get(field)
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes | Image.Image):
        return value
    if isinstance(value, str):
        return _resolve_image_path(row, field, value)
    raise BenchmarkDataError(f"{row.where(field)}: unsupported image value of type {type(value).__name__}")


def _resolve_image_path(row: SourceRow, field: str, value: str) -> Path:
    base = row.file if row.file.is_dir() else row.file.parent
    for folder in (base, row.root, base / "images", row.root / "images"):
        if (folder / value).is_file():
            return folder / value
    raise BenchmarkDataError(f"{row.where(field)}: image file '{value}' not found next to the data file")


def number_placeholders(texts: Sequence[str], pattern: re.Pattern[str]) -> tuple[list[str], list[int]]:
    """Replace numbered image tags (`<image 2>`, `<image_2>`) by `<image>`; return the texts and the numbers in order.

    Tags are counted in reading order across `texts` (question first, then each option), one entry per tag, so a tag
    that appears twice gets its image twice: the images then line up with the `<image>` placeholders of the prompt.
    """
    order: list[int] = []
    replaced: list[str] = []
    for text in texts:
        order.extend(int(number) for number in pattern.findall(text))
        replaced.append(pattern.sub(IMAGE_PLACEHOLDER, text))
    return replaced, order


def numbered_images(row: SourceRow, order: Sequence[int], prefix: str = "image_") -> tuple[ImageSource, ...]:
    """The images named by `order` (1-based column numbers), failing on a tag whose column holds no image."""
    images: list[ImageSource] = []
    for number in order:
        field = f"{prefix}{number}"
        image = image_source(row, field)
        if image is None:
            raise BenchmarkDataError(f"{row.where(field)}: the text refers to <image {number}> but the row has none")
        images.append(image)
    return tuple(images)


def present_images(row: SourceRow, count: int, prefix: str = "image_") -> tuple[ImageSource, ...]:
    """Every non-empty image among columns `image_1..image_<count>`, in column order."""
    found = (image_source(row, f"{prefix}{number}") for number in range(1, count + 1))
    return tuple(image for image in found if image is not None)


def literal_list(row: SourceRow, field: str) -> list[str]:
    """A list column published either as a real list or as its Python-literal string ("['a', 'b']"), read safely."""
    value = row.fields.get(field)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if len(value) > MAX_LITERAL_CHARS:
            raise BenchmarkDataError(f"{row.where(field)}: list literal longer than {MAX_LITERAL_CHARS} characters")
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, RecursionError) as error:
            raise BenchmarkDataError(f"{row.where(field)}: not a list literal ({error})") from error
    if not isinstance(value, list | tuple):
        raise BenchmarkDataError(f"{row.where(field)}: expected a list, got {type(value).__name__}")
    return [str(item) for item in value]
