from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rethinker.curation.output import (
    annotation_values,
    atomic_write,
    check_suffix,
    read_jsonl_rows,
    rebase_image_paths,
    synthetic_rows,
    with_columns,
    write_parquet,
)
from rethinker.curation.passrate import QueryResult
from rethinker.data.loaders import load_examples
from rethinker.data.schema import Example

RESULTS = [QueryResult("a", 2, 4), QueryResult("b", 0, 0), QueryResult("c", 4, 4)]


def test_annotation_values_hold_rate_and_counts() -> None:
    values = annotation_values(RESULTS, "PassRate_m")
    assert values == {
        "PassRate_m": [0.5, None, 1.0],
        "PassRate_m_correct": [2, 0, 4],
        "PassRate_m_samples": [4, 0, 4],
    }


def test_jsonl_rows_keep_their_fields_and_gain_the_columns(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "x": 1}\n\n{"id": "b", "x": 2}\n{"id": "c", "x": 3}\n{"id": "d"}\n')
    rows = with_columns(read_jsonl_rows(source, 3), annotation_values(RESULTS, "PassRate_m"))
    assert [row["x"] for row in rows] == [1, 2, 3]
    assert [row["PassRate_m"] for row in rows] == [0.5, None, 1.0]


def test_parquet_gains_typed_columns_and_replaces_an_old_annotation(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "PassRate_m": [0.0, 0.0, 0.0, 0.0]}), source)
    out = tmp_path / "out.parquet"
    write_parquet(source, annotation_values(RESULTS, "PassRate_m"), out)
    table = pq.read_table(out)
    assert table.column_names == ["id", "PassRate_m", "PassRate_m_correct", "PassRate_m_samples"]
    assert table.column("PassRate_m").to_pylist() == [0.5, None, 1.0]
    assert table.schema.field("PassRate_m_correct").type == pa.int64()
    assert not list(tmp_path.glob(".*.tmp"))


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old")

    def failing(path: Path) -> None:
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(out, failing)
    assert out.read_text() == "old"
    assert list(tmp_path.iterdir()) == [out]


def test_suffix_must_match_the_written_format() -> None:
    check_suffix(Path("x.parquet"), "parquet")
    with pytest.raises(ValueError, match=".jsonl"):
        check_suffix(Path("x.parquet"), "jsonl")


def test_synthetic_rows_save_pngs_that_the_loader_reads_back(tmp_path: Path) -> None:
    image = Image.new("RGB", (56, 56), (10, 200, 30))
    example = Example("s-0", "How many?", "3", (image,), (), {"family": "count"})
    out = tmp_path / "ann.jsonl"
    rows = synthetic_rows([example], out)
    assert rows[0]["images"] == ["ann-images/s-0-0.png"]
    out.write_text(json.dumps(rows[0]) + "\n")
    loaded = load_examples(out).examples[0]
    assert (loaded.id, loaded.question, loaded.answer) == ("s-0", "How many?", "3")
    assert loaded.metadata["family"] == "count"
    assert Image.open(loaded.images[0]).getpixel((5, 5)) == (10, 200, 30)


def test_relative_image_paths_are_rebased_onto_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "data" / "imgs" / "a.png").write_bytes(b"")
    rows = [
        {"images": ["imgs/a.png", "/abs/b.png"]},
        {"images": "imgs/a.png"},
        {"images": [{"path": "imgs/a.png", "bytes": None}]},
        {"question": "no image column"},
    ]
    out = tmp_path / "elsewhere" / "deep"
    rebased = rebase_image_paths(rows, "images", tmp_path / "data", out)
    assert rebased[0]["images"] == ["../../data/imgs/a.png", "/abs/b.png"]
    assert rebased[1]["images"] == "../../data/imgs/a.png"
    assert rebased[2]["images"][0]["path"] == "../../data/imgs/a.png"
    assert rebased[3] == {"question": "no image column"}
    assert (out / rebased[0]["images"][0]).resolve() == (tmp_path / "data" / "imgs" / "a.png").resolve()
    assert rebase_image_paths(rows, "images", tmp_path / "data", tmp_path / "data") == rows
