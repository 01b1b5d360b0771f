from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.curation.passrate import (
    PartialLog,
    QueryResult,
    batch_seed,
    count_columns,
    fixed_batches,
    group_correct,
    partial_path,
    pass_rate_column,
)

SETTINGS = {"model": "/m", "samples": 4, "seed": 0}


def test_column_names_and_side_file_path() -> None:
    column = pass_rate_column("7BBase")
    assert column == "PassRate_7BBase"
    assert count_columns(column) == ("PassRate_7BBase_correct", "PassRate_7BBase_samples")
    assert partial_path(Path("/d/out.jsonl")) == Path("/d/out.jsonl.partial.jsonl")


def test_pass_rate_is_a_share_and_none_for_a_skipped_query() -> None:
    assert QueryResult("q", 3, 8).pass_rate == 3 / 8
    assert QueryResult("q", 0, 0).pass_rate is None


def test_fixed_batches_cover_every_position_once_in_order() -> None:
    batches = fixed_batches(7, 3)
    assert [list(b) for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert fixed_batches(0, 3) == []
    with pytest.raises(ValueError):
        fixed_batches(3, 0)


def test_batch_seed_depends_on_seed_and_ids_only() -> None:
    assert batch_seed(0, ["a", "b"]) == batch_seed(0, ["a", "b"])
    assert len({batch_seed(0, ["a", "b"]), batch_seed(1, ["a", "b"]), batch_seed(0, ["a", "c"])}) == 3
    assert 0 <= batch_seed(5, ["x"]) < 2**63


def test_group_correct_counts_per_group() -> None:
    assert group_correct([True, False, True, True, False, False], 3) == [2, 1]
    with pytest.raises(ValueError):
        group_correct([True, False, True], 2)


def test_partial_log_round_trip_and_repair_of_a_truncated_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl.partial.jsonl"
    log = PartialLog(path, SETTINGS)
    assert log.load() == {}
    log.append([QueryResult("a", 1, 4), QueryResult("b", 4, 4)])
    with path.open("a") as handle:
        handle.write('{"id": "c", "corr')
    finished = PartialLog(path, SETTINGS).load()
    assert finished == {"a": QueryResult("a", 1, 4), "b": QueryResult("b", 4, 4)}
    assert path.read_text().endswith("\n")
    assert len(path.read_text().splitlines()) == 3
    log.append([QueryResult("c", 0, 4)])
    assert set(PartialLog(path, SETTINGS).load()) == {"a", "b", "c"}


def test_partial_log_refuses_other_settings_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    PartialLog(path, SETTINGS).load()
    with pytest.raises(ValueError, match="samples"):
        PartialLog(path, {**SETTINGS, "samples": 8}).load()


def test_partial_log_reports_a_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"settings": SETTINGS}) + "\nnot json\n" + json.dumps({"id": "a"}) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        PartialLog(path, SETTINGS).load()
