"""Write annotated data: the input's own rows and format with the pass-rate and count columns added, atomically."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from rethinker.curation.passrate import QueryResult, count_columns
from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.jsonl import iter_jsonl

OUTPUT_SUFFIXES = {"jsonl": ".jsonl", "json": ".json", "parquet": ".parquet"}


def annotation_values(results: Sequence[QueryResult], column: str) -> dict[str, list[Any]]:
    """The new columns: pass rate (None for a skipped query), correct count and sample count, one value per row."""
    correct, samples = count_columns(column)
    return {
        column: [result.pass_rate for result in results],
        correct: [result.correct for result in results],
        samples: [result.samples for result in results],
    }


def atomic_write(out: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temporary file beside `out`, then rename it over `out`, so `out` is never half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)


def check_suffix(out: Path, output_format: str) -> None:
    """Refuse an output path whose suffix does not name the format that will be written to it."""
    suffix = OUTPUT_SUFFIXES[output_format]
    if out.suffix.lower() != suffix:
        raise UserError(f"--out {out}: this input is written as {output_format}; give a path ending in {suffix}")


def read_jsonl_rows(path: Path, count: int) -> list[dict[str, Any]]:
    """The first `count` rows of a JSON-lines file, blank lines skipped as the loader skips them."""
    return [row for _, row in itertools.islice(iter_jsonl(path), count)]


def read_json_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON file holding a list of objects."""
    return json.loads(path.read_text(encoding="utf-8"))


def rebase_image_paths(
    rows: Sequence[dict[str, Any]], column: str | None, root: Path, out_folder: Path
) -> list[dict[str, Any]]:
    """Rows whose relative image paths (read against `root`) are rewritten relative to `out_folder`.

    The annotated file is read back from its own folder, so its images must resolve from there wherever it is written.
    """
    if column is None or root.resolve() == out_folder.resolve():
        return list(rows)

    def rebase(value: Any) -> Any:
        if isinstance(value, list):
            return [rebase(item) for item in value]
        if isinstance(value, dict) and isinstance(value.get("path"), str) and not value.get("bytes"):
            return {**value, "path": rebase(value["path"])}
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return os.path.relpath((root / value).resolve(), out_folder.resolve())
        return value

    return [{**row, column: rebase(row[column])} if column in row else dict(row) for row in rows]


def with_columns(rows: Sequence[dict[str, Any]], values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Each row with the new columns set (replacing columns of the same names)."""
    return [{**row, **{name: column[index] for name, column in values.items()}} for index, row in enumerate(rows)]


def write_jsonl(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """Write rows as JSON lines, atomically."""
    atomic_write(out, lambda path: path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"))


def write_json(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """Write rows as one JSON list, atomically."""
    atomic_write(out, lambda path: path.write_text(json.dumps(list(rows), indent=1), encoding="utf-8"))


def write_parquet(source: Path, values: dict[str, list[Any]], out: Path) -> None:
    """The first rows of a Parquet file (as many as there are values) with the new columns added, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = len(next(iter(values.values())))
    table = pq.read_table(source).slice(0, count)
    types = {0: pa.float64(), 1: pa.int64(), 2: pa.int64()}
    for position, (name, column) in enumerate(values.items()):
        array = pa.array(column, type=types[position])
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, array)
        else:
            table = table.append_column(name, array)
    atomic_write(out, lambda path: pq.write_table(table, path))


def write_hf_as_parquet(source: Path, values: dict[str, list[Any]], out: Path) -> None:
    """The first rows of a saved HF dataset (one split) with the new columns added, written as Parquet."""
    from datasets import DatasetDict, load_from_disk

    dataset = load_from_disk(str(source))
    if isinstance(dataset, DatasetDict):
        dataset = next(iter(dataset.values()))
    dataset = dataset.select(range(len(next(iter(values.values())))))
    for name, column in values.items():
        if name in dataset.column_names:
            dataset = dataset.remove_columns(name)
        dataset = dataset.add_column(name, column)
    atomic_write(out, lambda path: dataset.to_parquet(str(path)))


def synthetic_rows(examples: Sequence[Example], out: Path) -> list[dict[str, Any]]:
    """Rows for synthetic examples, saving each image as a PNG in a folder beside `out` (paths relative to it)."""
    folder = out.with_name(f"{out.stem}-images")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for example in examples:
        paths = []
        for index, image in enumerate(example.images):
            if not isinstance(image, Image.Image):
                raise TypeError(f"synthetic example {example.id} holds a {type(image).__name__}, not an image")
            name = f"{example.id}-{index}.png"
            image.save(folder / name)
            paths.append(f"{folder.name}/{name}")
        fields = {"id": example.id, "question": example.question, "answer": example.answer, "images": paths}
        rows.append({**fields, "choices": list(example.choices), **example.metadata})
    return rows
