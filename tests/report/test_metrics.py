"""Reading run directories: metric rows, series that skip missing values, clear errors, latest samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.report.metrics import RunError, latest_samples_file, load_run, read_samples
from tests.report.runs import finite, write_run, write_samples


def test_load_run_reads_rows_in_step_order_with_directory_label(tmp_path: Path) -> None:
    rows = write_run(tmp_path / "grpo-baseline", steps=12)
    run = load_run(tmp_path / "grpo-baseline")
    assert run.label == "grpo-baseline"
    assert [row["step"] for row in run.rows] == list(range(13))
    steps, values = run.series("reward/mean")
    assert steps == list(range(1, 13))
    assert values == [row["reward/mean"] for row in rows[1:]]
    assert "groups/effective_frac" in run.keys() and "step" not in run.keys()


def test_series_skips_missing_none_nan_and_non_numbers(tmp_path: Path) -> None:
    lines = [
        {"step": 1, "loss/kl": 0.5},
        {"step": 2, "loss/kl": None},
        {"step": 3, "loss/kl": float("nan")},
        {"step": 4},
        {"step": 5, "loss/kl": "0.1"},
        {"step": 6, "loss/kl": True},
        {"step": 7, "loss/kl": float("inf")},
        {"step": 8, "loss/kl": 2},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert load_run(tmp_path, label="kl").series("loss/kl") == ([1, 8], [0.5, 2.0])


def test_a_repeated_step_is_refused_naming_both_lines(tmp_path: Path) -> None:
    lines = [{"step": 1, "reward/mean": 0.1}, {"step": 2, "reward/mean": 0.2}, {"step": 2, "reward/mean": 0.3}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    with pytest.raises(RunError, match="line 3: step 2 was already logged on line 2"):
        load_run(tmp_path)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"step": 3, "reward/mean": 0.', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"reward/mean": 0.5}', "'step' must be an integer"),
        ('{"step": 2.5}', "'step' must be an integer"),
        ('{"step": Infinity}', "'step' must be an integer"),
        ('{"step": NaN}', "'step' must be an integer"),
        ('{"step": "3"}', "'step' must be an integer"),
    ],
)
def test_a_malformed_metrics_line_names_file_and_line(tmp_path: Path, bad_line: str, reason: str) -> None:
    good = [json.dumps({"step": step, "reward/mean": 0.5}) for step in (1, 2)]
    (tmp_path / "metrics.jsonl").write_text(f"{good[0]}\n{good[1]}\n{bad_line}\n")
    with pytest.raises(RunError, match=rf"metrics\.jsonl line 3: {reason}"):
        load_run(tmp_path)


def test_empty_or_missing_runs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="run directory not found"):
        load_run(tmp_path / "absent")
    with pytest.raises(RunError, match="no metrics file"):
        load_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text("\n  \n")
    with pytest.raises(RunError, match="empty run"):
        load_run(tmp_path)


def test_latest_samples_file_orders_steps_by_number(tmp_path: Path) -> None:
    assert latest_samples_file(tmp_path) is None
    for step in (0, 9, 10):
        write_samples(tmp_path / "samples" / f"step-{step}.jsonl", step)
    (tmp_path / "samples" / "step-99.jsonl.tmp").write_text("")
    assert latest_samples_file(tmp_path) == tmp_path / "samples" / "step-10.jsonl"


def test_read_samples_stops_at_the_limit_and_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "step-4.jsonl"
    write_samples(path, 4, count=5)
    records = read_samples(path, 2)
    assert [record["id"] for record in records] == ["q0", "q1"]
    with path.open("a") as f:
        f.write("not json\n")
    assert len(read_samples(path, 5)) == 5
    with pytest.raises(RunError, match=r"step-4\.jsonl line 6"):
        read_samples(path, 10)


def test_fabricated_runs_have_finite_values_only_where_expected(tmp_path: Path) -> None:
    rows = write_run(tmp_path / "run", steps=10, eval_every=4)
    run = load_run(tmp_path / "run")
    steps, accs = run.series("eval/acc")
    assert steps == [0, 4, 8, 10]
    assert accs == finite([row.get("eval/acc") for row in rows])
