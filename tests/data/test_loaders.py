from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, DatasetDict, Features, Image, Sequence, Value

from rethinker.data.errors import DataError
from rethinker.data.images import load_example_images
from rethinker.data.loaders import GEOMETRY3K_COLUMNS, ColumnMap, infer_format, load_examples


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def image_dir(tmp_path: Path, png: Callable[..., bytes]) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(10, 10, (255, 0, 0)))
    (folder / "b.png").write_bytes(png(12, 8, (0, 0, 255)))
    return folder


def test_jsonl_with_relative_image_paths_resolves_against_the_data_folder(tmp_path: Path, image_dir: Path) -> None:
    rows = [
        {"id": "q1", "question": "<image> What?", "answer": "3", "images": "imgs/a.png", "category": "geo"},
        {"question": "Two?", "answer": 4.5, "images": ["imgs/a.png", "imgs/b.png"], "choices": ["x", "y"]},
        {"question": "None?", "answer": "B", "images": None},
    ]
    result = load_examples(write_jsonl(tmp_path / "train.jsonl", rows))
    first, second, third = result.examples
    assert result.skipped == []
    assert (first.id, first.answer, first.images) == ("q1", "3", (image_dir / "a.png",))
    assert first.metadata["category"] == "geo"
    assert first.metadata["origin"] == "train.jsonl row 0"
    assert (second.id, second.answer, second.choices) == ("train-1", "4.5", ("x", "y"))
    assert second.images == (image_dir / "a.png", image_dir / "b.png")
    assert third.images == ()
    assert [image.getpixel((0, 0)) for image in load_example_images(second)] == [(255, 0, 0), (0, 0, 255)]


def test_image_root_overrides_the_data_folder(tmp_path: Path, image_dir: Path) -> None:
    data = tmp_path / "elsewhere"
    data.mkdir()
    path = write_jsonl(data / "d.jsonl", [{"question": "q", "answer": "1", "images": ["a.png"]}])
    assert load_examples(path, image_root=image_dir).examples[0].images == (image_dir / "a.png",)


def test_json_list_and_geometry3k_preset(tmp_path: Path, image_dir: Path) -> None:
    path = tmp_path / "geo.json"
    rows = [{"problem": "Find x.", "answer": "12", "images": ["imgs/b.png"], "id": 7}]
    path.write_text(json.dumps(rows), encoding="utf-8")
    (example,) = load_examples(path, columns=GEOMETRY3K_COLUMNS).examples
    assert (example.id, example.question, example.answer) == ("geo-0", "Find x.", "12")
    assert example.metadata["id"] == 7


def test_parquet_with_embedded_bytes_and_hf_image_dicts(tmp_path: Path, png: Callable[..., bytes]) -> None:
    table = pa.table(
        {
            "id": ["p0", "p1"],
            "question": ["q0", "q1"],
            "answer": ["1", "2"],
            "images": [[{"bytes": png(5, 5, (0, 255, 0)), "path": None}], [{"bytes": None, "path": None}]],
        }
    )
    pq.write_table(table, tmp_path / "data.parquet")
    result = load_examples(tmp_path / "data.parquet", on_error="skip")
    (example,) = result.examples
    assert isinstance(example.images[0], bytes)
    assert load_example_images(example)[0].getpixel((2, 2)) == (0, 255, 0)
    assert result.skipped == [
        f"{tmp_path / 'data.parquet'} row 1 field 'images[0]': image dict holds neither bytes nor a path"
    ]


def test_parquet_raw_bytes_column_and_limit(tmp_path: Path, png: Callable[..., bytes]) -> None:
    pq.write_table(
        pa.table({"question": ["a", "b", "c"], "answer": ["1", "2", "3"], "images": [png(), png(), png()]}),
        tmp_path / "raw.parquet",
    )
    examples = load_examples(tmp_path / "raw.parquet", limit=2).examples
    assert [example.id for example in examples] == ["raw-0", "raw-1"]
    assert all(isinstance(example.images[0], bytes) for example in examples)


def test_hf_datasets_directory_keeps_images_undecoded(tmp_path: Path, png: Callable[..., bytes]) -> None:
    features = Features(
        {"question": Value("string"), "answer": Value("string"), "images": Sequence(Image()), "source": Value("string")}
    )
    rows = [
        {"question": "q0", "answer": "A", "images": [png(6, 6, (1, 2, 3)), png(7, 7)], "source": "s"},
        {"question": "q1", "answer": "B", "images": [], "source": "t"},
    ]
    Dataset.from_list(rows, features=features).save_to_disk(str(tmp_path / "hf"))
    assert infer_format(tmp_path / "hf") == "hf"
    first, second = load_examples(tmp_path / "hf").examples
    assert len(first.images) == 2 and all(isinstance(image, bytes) for image in first.images)
    assert load_example_images(first)[0].getpixel((0, 0)) == (1, 2, 3)
    assert (second.answer, second.images, second.metadata["source"]) == ("B", (), "t")


def test_hf_dataset_dict_needs_a_split_when_it_has_several(tmp_path: Path) -> None:
    row = {"question": "q", "answer": "1", "images": None}
    DatasetDict({"train": Dataset.from_list([row]), "test": Dataset.from_list([row, row])}).save_to_disk(
        str(tmp_path / "dd")
    )
    with pytest.raises(DataError, match="split"):
        load_examples(tmp_path / "dd")
    assert len(load_examples(tmp_path / "dd", split="test").examples) == 2


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"answer": "1", "images": None}, "question", "column missing"),
        ({"question": "q", "images": None}, "answer", "column missing"),
        ({"question": "q", "answer": ["1", "2"], "images": None}, "answer", "expected a string, got list"),
        ({"question": "q", "answer": None, "images": None}, "answer", "null"),
        ({"question": True, "answer": "1", "images": None}, "question", "expected a string, got bool"),
        ({"question": "q", "answer": "1", "images": 5}, "images", "expected an image or a list"),
        ({"question": "q", "answer": "1", "images": ["imgs/a.png", "imgs/nope.png"]}, "images[1]", "not found"),
        ({"question": "q", "answer": "1", "images": [3]}, "images[0]", "got int"),
        ({"question": "q", "answer": "1"}, "images", "column missing"),
        ({"question": "q", "answer": "1", "images": None, "choices": "A"}, "choices", "list of option texts"),
    ],
)
def test_bad_rows_name_file_row_and_field(
    tmp_path: Path, image_dir: Path, row: dict[str, Any], field: str, reason: str
) -> None:
    good = {"question": "q", "answer": "1", "images": "imgs/a.png"}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, good, row])
    with pytest.raises(DataError) as caught:
        load_examples(path)
    message = str(caught.value)
    assert message.startswith(f"{path} row 2 field '{field}': ")
    assert reason in message


def test_invalid_json_line_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"question": "q", "answer": "1", "images": null}\n{"question": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.jsonl row 1 .*invalid JSON"):
        load_examples(path)


def test_skip_mode_counts_and_logs_skipped_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"question": "q", "answer": str(i), "images": None} for i in range(5)]
    rows[1]["answer"] = ["list"]
    rows[3].pop("question")
    path = write_jsonl(tmp_path / "mixed.jsonl", [*rows, [1, 2]])
    with caplog.at_level(logging.WARNING, logger="rethinker.data.loaders"):
        result = load_examples(path, on_error="skip")
    assert [example.answer for example in result.examples] == ["0", "2", "4"]
    assert len(result.skipped) == 3
    assert "row 1 field 'answer'" in result.skipped[0] and "row 3 field 'question'" in result.skipped[1]
    assert "row 5" in result.skipped[2]
    assert sum("skipping" in record.message for record in caplog.records) == 3
    assert any("skipped 3 bad rows, kept 3" in record.message for record in caplog.records)


def test_skip_warnings_are_capped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_jsonl(tmp_path / "many.jsonl", [{"question": "q", "images": None}] * 30)
    with caplog.at_level(logging.WARNING, logger="rethinker.data.loaders"):
        result = load_examples(path, on_error="skip")
    assert len(result.skipped) == 30
    assert sum("skipping" in record.message for record in caplog.records) == 20


def test_missing_file_and_missing_parquet_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_examples(tmp_path / "absent.jsonl")
    pq.write_table(pa.table({"question": ["q"], "images": [None]}), tmp_path / "noanswer.parquet")
    with pytest.raises(DataError, match=r"noanswer\.parquet row 0 field 'answer': column missing"):
        load_examples(tmp_path / "noanswer.parquet", on_error="skip")


def test_explicit_metadata_columns_and_text_only_map(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"q": "hi", "a": "1", "keep": 1, "drop": 2}])
    columns = ColumnMap(question="q", answer="a", images=None, metadata=("keep",))
    (example,) = load_examples(path, columns=columns).examples
    assert dict(example.metadata) == {"origin": "t.jsonl row 0", "keep": 1}


def test_unknown_suffix_needs_a_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.txt", [{"question": "q", "answer": "1", "images": None}])
    with pytest.raises(DataError, match="format"):
        load_examples(path)
    assert len(load_examples(path, format="jsonl").examples) == 1


def test_corrupt_image_bytes_fail_at_decoding_naming_file_row_and_field(
    tmp_path: Path, png: Callable[..., bytes]
) -> None:
    pq.write_table(
        pa.table({"question": ["a", "b"], "answer": ["1", "2"], "images": [[png()], [png(), png()[:40]]]}),
        tmp_path / "lazy.parquet",
    )
    first, second = load_examples(tmp_path / "lazy.parquet").examples
    assert load_example_images(first)[0].size == (8, 6)
    with pytest.raises(DataError, match=r"^lazy\.parquet row 1 field 'images\[1\]': cannot decode"):
        load_example_images(second)
