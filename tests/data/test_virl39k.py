from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rethinker.data.errors import DataError
from rethinker.data.images import load_example_images
from rethinker.data.selection import parse_interval, select_by_interval
from rethinker.data.virl39k import load_virl39k, strip_boxed


def virl_row(qid: str, question: str, answer: str, images: list[str], pass_7b: float | None) -> dict[str, Any]:
    return {
        "qid": qid,
        "question": question,
        "answer": answer,
        "image": images,
        "category": "(GradeSchool) Geometric",
        "source": "geoqa",
        "PassRate_7BBase": pass_7b,
        "PassRate_32BTrained": 0.5,
    }


def write_release(root: Path, rows: list[dict[str, Any]], png: Callable[..., bytes]) -> None:
    (root / "images").mkdir(parents=True)
    for name, color in (("a.jpg", (250, 0, 0)), ("b.jpg", (0, 0, 250))):
        (root / "images" / name).write_bytes(png(8, 8, color))
    pq.write_table(pa.Table.from_pylist(rows), root / "39Krelease.parquet")


def test_strip_boxed_handles_nesting_and_plain_answers() -> None:
    assert strip_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert strip_boxed("so \\boxed{1} or \\boxed{B}") == "B"
    assert strip_boxed(" 42 ") == "42"
    assert strip_boxed("\\boxed{unclosed") == "\\boxed{unclosed"


def test_two_images_per_row_and_a_pass_rate_filter(tmp_path: Path, png: Callable[..., bytes]) -> None:
    rows = [
        virl_row("v0", "<image> and <image>: which is red?", "\\boxed{A}", ["images/a.jpg", "images/b.jpg"], 0.25),
        virl_row("v1", "<image> Find x.", "\\boxed{3}", ["images/b.jpg"], 0.0),
        virl_row("v2", "<image> Find y.", "7", ["images/a.jpg"], 1.0),
        virl_row("v3", "<image> Find z.", "\\boxed{2}", ["images/a.jpg"], None),
    ]
    write_release(tmp_path, rows, png)
    examples = load_virl39k(tmp_path).examples
    assert [example.answer for example in examples] == ["A", "3", "7", "2"]
    first = examples[0]
    assert first.images == (tmp_path / "images" / "a.jpg", tmp_path / "images" / "b.jpg")
    assert [image.getpixel((1, 1)) for image in load_example_images(first)] == [(250, 0, 0), (0, 0, 250)]
    assert first.metadata["raw_answer"] == "\\boxed{A}"
    assert first.metadata["category"] == "(GradeSchool) Geometric"
    kept, counts = select_by_interval(examples, "PassRate_7BBase", parse_interval("(0, 1)"))
    assert [example.id for example in kept] == ["v0"]
    assert counts == {"kept": 1, "dropped_below": 1, "dropped_above": 1, "dropped_missing": 1}


def test_placeholder_count_mismatch_names_the_row(tmp_path: Path, png: Callable[..., bytes]) -> None:
    rows = [
        virl_row("v0", "<image> ok", "\\boxed{1}", ["images/a.jpg"], 0.5),
        virl_row("v1", "<image> only one placeholder", "\\boxed{1}", ["images/a.jpg", "images/b.jpg"], 0.5),
    ]
    write_release(tmp_path, rows, png)
    with pytest.raises(DataError, match=r"39Krelease\.parquet row 1 field 'question': 1 <image> placeholders but 2"):
        load_virl39k(tmp_path)
    result = load_virl39k(tmp_path, on_error="skip")
    assert [example.id for example in result.examples] == ["v0"]
    assert len(result.skipped) == 1


def test_missing_image_file_names_row_and_field(tmp_path: Path, png: Callable[..., bytes]) -> None:
    write_release(
        tmp_path, [virl_row("v0", "<image><image>", "\\boxed{1}", ["images/a.jpg", "images/c.jpg"], 0.5)], png
    )
    with pytest.raises(DataError, match=r"row 0 field 'image\[1\]': image file not found"):
        load_virl39k(tmp_path)
