"""ShareGPT-style SFT files in every layout, errors naming file/row/field, and synthetic worked-solution records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rethinker.data.errors import DataError
from rethinker.data.sharegpt import load_sharegpt
from rethinker.data.synthetic import make_synthetic
from rethinker.models.prompts import build_messages
from rethinker.train.sft_data import chat_content
from rethinker.train.sft_synthetic import synthetic_sft_records

ANSWER = "<think>Two dots.</think><answer>2</answer>"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _image(folder: Path, name: str, png: Callable[..., bytes]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(png())
    return name


def test_vision_r1_cold_layout_keeps_placeholder_and_resolves_against_the_file_folder(
    tmp_path: Path, png: Callable[..., bytes]
) -> None:
    name = _image(tmp_path, "a.png", png)
    row = {
        "id": "cold-1",
        "image": name,
        "conversations": [{"from": "human", "value": "<image>\nHow many dots?"}, {"from": "gpt", "value": ANSWER}],
    }
    path = tmp_path / "cold.json"
    path.write_text(json.dumps([row]))
    for data_format in ("auto", "vision-r1-cold"):
        (record,) = load_sharegpt(path, format=data_format)
        assert record.id == "cold-1"
        assert record.images == (tmp_path / "a.png",)
        assert record.messages == [
            {"role": "user", "content": "<image>\nHow many dots?"},
            {"role": "assistant", "content": ANSWER},
        ]
        assert record.origin == "cold.json row 0"


def test_llava_cot_layout_without_placeholder_puts_the_image_first_and_uses_the_image_root(
    tmp_path: Path, png: Callable[..., bytes]
) -> None:
    name = _image(tmp_path / "images" / "sqa", "b.png", png)
    row = {
        "id": "cot-7",
        "image": f"sqa/{name}",
        "conversations": [
            {"from": "human", "value": "Which is larger?"},
            {"from": "gpt", "value": "<SUMMARY>Compare.</SUMMARY><CONCLUSION>A</CONCLUSION>"},
            {"from": "human", "value": "Why?"},
            {"from": "gpt", "value": "Because it is bigger."},
        ],
    }
    (tmp_path / "data").mkdir()
    path = _write_jsonl(tmp_path / "data" / "train.jsonl", [row])
    (record,) = load_sharegpt(path, image_root=tmp_path / "images", format="llava-cot")
    assert record.images == (tmp_path / "images" / "sqa" / "b.png",)
    assert [m["role"] for m in record.messages] == ["user", "assistant", "user", "assistant"]
    assert record.messages[0]["content"] == "<image>Which is larger?"
    assert record.messages[2]["content"] == "Why?"


def test_sharegpt_images_list_layout_with_two_placeholders_and_a_system_turn(
    tmp_path: Path, png: Callable[..., bytes]
) -> None:
    first, second = _image(tmp_path, "1.png", png), _image(tmp_path, "2.png", png)
    row = {
        "images": [first, second],
        "conversations": [
            {"from": "system", "value": "Think first."},
            {"from": "human", "value": "Left <image> right <image>: same?"},
            {"from": "gpt", "value": "No."},
        ],
    }
    path = _write_jsonl(tmp_path / "pairs.jsonl", [row])
    (record,) = load_sharegpt(path, format="sharegpt")
    assert record.id == "pairs-0"
    assert record.images == (tmp_path / "1.png", tmp_path / "2.png")
    assert [m["role"] for m in record.messages] == ["system", "user", "assistant"]


@pytest.mark.parametrize("data_format", ["auto", "mulberry", "messages"])
def test_mulberry_messages_layout_and_text_only_rows(
    tmp_path: Path, png: Callable[..., bytes], data_format: str
) -> None:
    name = _image(tmp_path, "m.png", png)
    rows = [
        {
            "messages": [
                {"role": "user", "content": "<image>Solve it."},
                {"role": "assistant", "content": "### Step 1 ... The final answer is: 3"},
            ],
            "images": [name],
        },
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "images": []},
    ]
    path = tmp_path / "mulberry_sft.json"
    path.write_text(json.dumps(rows))
    with_image, text_only = load_sharegpt(path, format=data_format)
    assert with_image.images == (tmp_path / "m.png",)
    assert with_image.messages[1] == {"role": "assistant", "content": "### Step 1 ... The final answer is: 3"}
    assert text_only.images == ()
    assert text_only.messages[0] == {"role": "user", "content": "2+2?"}


def _error(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as caught:
        load_sharegpt(path, **kwargs)
    return str(caught.value)


def test_bad_rows_are_named_by_file_row_and_field(tmp_path: Path, png: Callable[..., bytes]) -> None:
    name = _image(tmp_path, "ok.png", png)
    good = {"image": name, "conversations": [{"from": "human", "value": "<image>Q"}, {"from": "gpt", "value": "A"}]}
    cases = {
        "missing.jsonl": ({"image": name}, "field 'conversations'"),
        "role.jsonl": (
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "robot", "value": "A"}]},
            "field 'conversations[1].from': unknown role 'robot'",
        ),
        "count.jsonl": (
            {**good, "conversations": [{"from": "human", "value": "<image><image>Q"}, {"from": "gpt", "value": "A"}]},
            "2 <image> placeholders but 1 images",
        ),
        "file.jsonl": ({**good, "image": "nowhere.png"}, "field 'image': image file not found"),
        "answerless.jsonl": ({"conversations": [{"from": "human", "value": "Q"}]}, "no assistant turn"),
        "content.jsonl": (
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": None}]},
            "field 'conversations[1].value'",
        ),
    }
    for file_name, (bad, expected) in cases.items():
        path = _write_jsonl(tmp_path / file_name, [good, good, bad])
        message = _error(path)
        assert str(path) in message and "row 2" in message and expected in message, message


def test_placeholder_outside_a_user_turn_and_late_system_turn_are_refused(tmp_path: Path) -> None:
    late_system = {
        "messages": [
            {"role": "user", "content": "Q"},
            {"role": "system", "content": "S"},
            {"role": "assistant", "content": "A"},
        ]
    }
    image_in_answer = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<image>"}]}
    assert "only come first" in _error(_write_jsonl(tmp_path / "a.jsonl", [late_system]))
    assert "outside a user turn" in _error(_write_jsonl(tmp_path / "b.jsonl", [image_in_answer]))


def test_invalid_json_line_and_unknown_format_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"messages": []}\n{not json\n')
    assert "row 0" in _error(path)
    path.write_text("{not json\n")
    assert "row 0 field '<line>': invalid JSON" in _error(path)
    assert "unknown format" in _error(path, format="alpaca")
    assert "not found" in _error(tmp_path / "absent.jsonl")


def test_named_layout_insists_on_its_own_keys(tmp_path: Path) -> None:
    row = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    message = _error(_write_jsonl(tmp_path / "m.jsonl", [row]), format="vision-r1-cold")
    assert "field 'conversations'" in message


def test_synthetic_records_use_the_rl_prompt_and_the_worked_solution() -> None:
    records = synthetic_sft_records(6, seed=3, recheck_prob=1.0)
    examples = make_synthetic(6, 3)
    assert [r.id for r in records] == [e.id for e in examples]
    for record, example in zip(records, examples, strict=True):
        user, answer = record.messages
        assert chat_content(user) == build_messages(example, "default")[0]
        assert answer["role"] == "assistant" and "Wait" in answer["content"]
        assert answer["content"].endswith(f"\\boxed{{{example.answer}}}")
        assert len(record.images) == 1
    assert synthetic_sft_records(6, seed=3, recheck_prob=1.0) == records
    plain = synthetic_sft_records(6, seed=3, recheck_prob=0.0, template="rethink")
    assert all("Wait" not in r.messages[-1]["content"] for r in plain)
    assert all("self-questioning" in r.messages[0]["content"] for r in plain)


def test_synthetic_records_draw_each_prompt_from_several_templates() -> None:
    records = synthetic_sft_records(200, seed=4, template=["default", "rethink"])
    rethink = sum("self-questioning" in r.messages[0]["content"] for r in records)
    assert 70 < rethink < 130
    assert synthetic_sft_records(200, seed=4, template=["default", "rethink"]) == records
    assert synthetic_sft_records(5, seed=4, template=["rethink"]) == synthetic_sft_records(
        5, seed=4, template="rethink"
    )


def test_synthetic_eval_split_never_shares_items_with_train() -> None:
    train = synthetic_sft_records(40, seed=0)
    held = synthetic_sft_records(40, seed=0, split="eval")
    seen = {(r.messages[0]["content"], r.images[0].tobytes()) for r in train}
    assert all(r.id.startswith("synthetic-eval") for r in held)
    assert not seen & {(r.messages[0]["content"], r.images[0].tobytes()) for r in held}
