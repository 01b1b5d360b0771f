"""The one JSON-lines reader: objects per non-blank line, and a bad line named by its file and line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinker.errors import UserError
from rethinker.jsonl import JsonlError, iter_jsonl, jsonl_entries, read_jsonl


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_objects_come_back_in_order_with_their_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n\n  \n{"a": 2, "b": [1]}\n')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2, "b": [1]}]
    assert [number for number, _ in iter_jsonl(path)] == [1, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": \n', r"rows\.jsonl line 2: not valid JSON \(Expecting value\)"),
        ('{"a": 1}\n\n[1, 2]\n', r"rows\.jsonl line 3: expected a JSON object, got list"),
    ],
)
def test_a_bad_line_is_a_user_error_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(JsonlError, match=message) as caught:
        read_jsonl(path)
    assert isinstance(caught.value, UserError)
    assert caught.value.path == path and caught.value.line in (2, 3)


def test_entries_keep_going_past_a_bad_line(tmp_path: Path) -> None:
    entries = list(jsonl_entries(write(tmp_path, '{"a": 1}\nnot json\n{"a": 3}\n')))
    assert [number for number, _ in entries] == [1, 2, 3]
    assert isinstance(entries[1][1], JsonlError) and entries[1][1].line == 2
    assert entries[2][1] == {"a": 3}


def test_streaming_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    rows = iter_jsonl(write(tmp_path, '{"a": 1}\n{oops}\n{"a": 3}\n'))
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(JsonlError, match="line 2"):
        next(rows)
