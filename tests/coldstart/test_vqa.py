"""Reading the VQA input: examples with resolved images, and errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from rethinker.coldstart.vqa import VqaFileError, plain_question, read_vqa_jsonl, sharegpt_record


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    return tmp_path


def write_rows(folder: Path, rows: list[object]) -> Path:
    path = folder / "vqa.jsonl"
    path.write_text(
        "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows) + "\n", encoding="utf-8"
    )
    return path


GOOD = {"id": 7, "image": "a.png", "question": "What?", "answer": 3}


def test_reads_examples_with_resolved_images(folder: Path) -> None:
    path = write_rows(folder, [GOOD, "", {**GOOD, "id": "x", "image": ["a.png", "a.png"]}])
    first, second = read_vqa_jsonl(path)
    assert (first.id, first.answer, first.images) == ("7", "3", (folder / "a.png",))
    assert second.metadata["image_refs"] == ["a.png", "a.png"]
    assert len(read_vqa_jsonl(path, limit=1)) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ([1, 2], "line 2: expected a JSON object"),
        ({**GOOD, "id": 8, "question": ""}, "line 2 field 'question': empty"),
        ({**GOOD, "id": 8, "answer": None}, "line 2 field 'answer': missing"),
        ({**GOOD, "id": 8, "image": "missing.png"}, "line 2 field 'image\\[0\\]': no such file"),
        ({**GOOD, "id": 8, "image": []}, "line 2 field 'image'"),
        ({**GOOD, "id": 8, "question": "<image><image> what?"}, "line 2 field 'question': 2 <image>"),
        ({**GOOD}, "line 2 field 'id': '7' repeats line 1"),
    ],
)
def test_errors_name_file_line_and_field(folder: Path, row: object, message: str) -> None:
    path = write_rows(folder, [GOOD, row])
    with pytest.raises(VqaFileError, match=f"vqa.jsonl {message}"):
        read_vqa_jsonl(path)


def test_question_placeholders_in_prompts_and_sharegpt(folder: Path) -> None:
    (example,) = read_vqa_jsonl(write_rows(folder, [GOOD]))
    assert sharegpt_record(example, "R")["conversations"][0]["value"] == "<image>What?"
    assert plain_question("Look: <image>\nWhich side?") == "Look: \nWhich side?"
