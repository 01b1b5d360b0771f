"""Numbered image markers read as a person would: one slot per picture, panels of a merged picture as labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from rethinker.data.loaders import load_examples
from rethinker.data.placeholders import IMAGE_PLACEHOLDER, place_numbered_images

REAL_MATHV = Path(__file__).parents[2] / ".." / "shared" / "real" / "mathvision" / "testmini.jsonl"


@pytest.mark.parametrize(
    ("question", "images", "expected"),
    [
        ("<image1> How many?", 1, "<image> How many?"),
        (
            "ant <image1> home <image2> bird <image3>; ant <image1>",
            1,
            "ant <image> home [image2] bird [image3]; ant [image1]",
        ),
        ("piece <image1> other <image 2>", 2, "piece <image> other <image>"),
        ("first <image1> again <image1> then <image2>", 2, "first <image> again [image1] then <image>"),
        ("<image2> before <image1>", 2, "[image2] before [image1]"),
        ("three named <image1> <image2> <image3>", 2, "three named [image1] [image2] [image3]"),
        ("bare <image> marker", 1, "bare <image> marker"),
        ("no marker", 0, "no marker"),
    ],
)
def test_numbered_markers(question: str, images: int, expected: str) -> None:
    assert place_numbered_images(question, images) == expected


def test_loader_gives_every_row_as_many_slots_as_images(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    rows = [
        {"question": "<image1> then <image2> <image3> <image6> <image7>", "answer": "1", "images": ["a.png"]},
        {"question": "<image1> and <image2>", "answer": "2", "images": ["a.png", "a.png"]},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    examples = load_examples(path).examples
    assert [e.question.count(IMAGE_PLACEHOLDER) for e in examples] == [1, 2]


@pytest.mark.real_data
def test_every_real_mathv_question_gets_one_slot_for_its_one_picture() -> None:
    if not REAL_MATHV.is_file():
        pytest.skip(f"{REAL_MATHV} is absent (../shared/real is not part of a clone)")
    rows = [json.loads(line) for line in REAL_MATHV.read_text().splitlines()]
    slots = [place_numbered_images(row["question"], 1).count(IMAGE_PLACEHOLDER) for row in rows]
    marked = [row for row in rows if "<image" in row["question"]]
    assert len(marked) >= 300 and sum(slots) == len(marked)
