"""Durable JSONL logs: a torn last line is cut away, other damage is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinker.coldstart.store import JsonlLog
from rethinker.jsonl import truncate_torn_tail


def test_append_then_recover_round_trips(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "a.jsonl")
    log.append({"id": "1", "text": "é\nx"})
    log.append({"id": "2"})
    log.close()
    assert [record["id"] for record in JsonlLog(tmp_path / "a.jsonl").recover()] == ["1", "2"]


def test_torn_last_line_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "1"}\n{"id": "2"}\n{"id": "3", "te', encoding="utf-8")
    assert [record["id"] for record in JsonlLog(path).recover()] == ["1", "2"]
    assert path.read_text(encoding="utf-8") == '{"id": "1"}\n{"id": "2"}\n'
    log = JsonlLog(path)
    log.append({"id": "3"})
    log.close()
    assert [record["id"] for record in JsonlLog(path).recover()] == ["1", "2", "3"]


def test_truncate_handles_a_single_torn_line_longer_than_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "1"}\n' + "x" * 200_000, encoding="utf-8")
    assert truncate_torn_tail(path) == 200_000
    path.write_text("y" * 100_000, encoding="utf-8")
    assert truncate_torn_tail(path) == 100_000 and path.read_bytes() == b""


def test_damage_before_the_last_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "1"}\nnot json\n{"id": "3"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        list(JsonlLog(path).recover())
    path.write_text('{"no_id": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: a record without an 'id'"):
        list(JsonlLog(path).recover())
