"""The resumable samples file: appended lines read back, a cut-short last line repaired, settings checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.eval.samples_log import ResumeError, append_samples, check_settings, read_finished
from rethinker.eval.suites.base import ScoredSample


def sample(example_id: str, score: float = 1.0) -> ScoredSample:
    return ScoredSample(
        example_id, f"answer {example_id}", example_id, "boxed", score, {"attempts": [{"score": score}]}
    )


def test_appended_samples_read_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    assert read_finished(path) == {}
    append_samples(path, [sample("a"), sample("b", 0.0)])
    append_samples(path, [sample("c")])
    assert read_finished(path) == {"a": sample("a"), "b": sample("b", 0.0), "c": sample("c")}


def test_a_truncated_last_line_is_cut_off_and_appending_goes_on_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    append_samples(path, [sample("a"), sample("b")])
    whole = path.read_bytes()
    path.write_bytes(whole[:-15])
    assert list(read_finished(path)) == ["a"]
    assert path.read_bytes() == whole[: whole.index(b"\n") + 1]
    append_samples(path, [sample("c")])
    assert list(read_finished(path)) == ["a", "c"]


def test_a_whole_record_without_its_newline_is_redone(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    append_samples(path, [sample("a"), sample("b")])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert list(read_finished(path)) == ["a"]
    assert path.read_bytes().endswith(b"\n")


def test_a_bad_line_in_the_middle_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    append_samples(path, [sample("a")])
    with path.open("a") as handle:
        handle.write('{"id": "x"\n')
    append_samples(path, [sample("b")])
    with pytest.raises(ResumeError, match="line 2: not a sample record"):
        read_finished(path)


def test_settings_are_recorded_then_a_change_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run_settings.json"
    check_settings(path, {"temperature": 0.0, "data": Path("/data/x.json")})
    assert json.loads(path.read_text()) == {"temperature": 0.0, "data": "/data/x.json"}
    check_settings(path, {"temperature": 0.0, "data": Path("/data/x.json")})
    with pytest.raises(ResumeError, match=r"temperature: 0\.0 -> 1\.0"):
        check_settings(path, {"temperature": 1.0, "data": Path("/data/x.json")})


def test_a_run_with_nothing_finished_takes_the_new_settings(tmp_path: Path) -> None:
    path = tmp_path / "run_settings.json"
    check_settings(path, {"model": "missing/checkpoint"})
    check_settings(path, {"model": "tiny"}, fresh=True)
    assert json.loads(path.read_text()) == {"model": "tiny"}
