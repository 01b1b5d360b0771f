"""`rethinker report` end to end: runs overlaid with labels, default output folder, difficulty data, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rethinker.cli import main
from rethinker.report.summary import format_value
from tests.report.runs import write_run


def _run(argv: list[str]) -> int:
    return main(["report", *argv])


def test_two_runs_with_labels(tmp_path: Path) -> None:
    grpo = write_run(tmp_path / "grpo", steps=10, seed=1)
    write_run(tmp_path / "ssr", steps=10, seed=2, replay=True)
    out = tmp_path / "compare"
    assert _run([str(tmp_path / "grpo"), str(tmp_path / "ssr"), "--labels", "GRPO,SSR", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [run["label"] for run in report["runs"]] == ["GRPO", "SSR"]
    series = report["figures"]["length.png"]["series"]
    assert [(s["label"], s["key"]) for s in series] == [("GRPO", "response/len_mean"), ("SSR", "response/len_mean")]
    assert sorted(path.name for path in out.glob("*.png")) == sorted(report["figures"])
    text = (out / "report.md").read_text()
    assert f"| held-out accuracy at end | {format_value(grpo[-1]['eval/acc'])} at step 10 |" in text


def test_default_output_is_inside_the_first_run(run_dir: Path) -> None:
    assert _run([str(run_dir), "--smooth", "4"]) == 0
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert report["smooth"] == 4 and "rethinking.png" in report["figures"]
    assert (run_dir / "report" / "rethinking.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "only-one,two,three"], "--labels needs 1 non-empty"),
        (["--smooth", "0"], "--smooth must be at least 1"),
        (["--passrate", "PassRate_7BBase"], "--passrate and --data go together"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    run_dir: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run([str(run_dir), *extra]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_runs_are_errors_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([]) == 2
    assert "nothing to report" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.jsonl").write_text("")
    assert _run([str(tmp_path / "empty")]) == 2
    assert "empty run" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2,\n')
    assert _run([str(tmp_path / "broken")]) == 2
    assert f"{tmp_path / 'broken' / 'metrics.jsonl'} line 2: not valid JSON" in capsys.readouterr().err


def test_passrate_report_of_a_virl39k_parquet(tmp_path: Path) -> None:
    rates = [0.0, 0.25, 0.5, 0.875, 1.0, 0.125]
    table = pa.table(
        {
            "qid": [f"v{i}" for i in range(len(rates))],
            "question": ["<image>How many?"] * len(rates),
            "answer": ["\\boxed{3}"] * len(rates),
            "image": [["images/missing.png"]] * len(rates),
            "category": ["chart", "chart", "geometry", "geometry", "chart", "geometry"],
            "PassRate_7BBase": rates,
        }
    )
    pq.write_table(table, tmp_path / "39Krelease.parquet")
    out = tmp_path / "difficulty"
    argv = ["--passrate", "PassRate_7BBase", "--data", str(tmp_path / "39Krelease.parquet"), "--columns", "virl39k"]
    assert _run([*argv, "--category", "category", "--out", str(out)]) == 0
    text = (out / "difficulty.md").read_text()
    assert "| all | 1 | 2 | 1 | 1 | 1 | 6 |" in text
    assert "| chart | 1 | 1 | 0 | 0 | 1 | 3 |" in text and "| geometry | 0 | 1 | 1 | 1 | 0 | 3 |" in text
    assert (out / "difficulty.png").is_file()


def test_passrate_needs_an_output_folder_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"question": "q", "answer": "1", "pass_rate": 0.5}\n')
    assert _run(["--passrate", "pass_rate", "--data", str(data)]) == 2
    assert "--out is required" in capsys.readouterr().err
    assert _run(["--passrate", "pass_rate", "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    assert "| all | 0 | 0 | 1 | 0 | 0 | 1 |" in (tmp_path / "out" / "difficulty.md").read_text()


def test_report_refuses_a_run_whose_steps_repeat(tmp_path: Path, rethinker_cli, user_error) -> None:
    rows = [{"step": step, "reward/mean": 0.1} for step in (0, 1, 2, 3, 0, 1)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = rethinker_cli("report", str(tmp_path), "--out", str(tmp_path / "report"))
    user_error(result, "metrics.jsonl line 5: step 0 was already logged on line 1", "two runs")
    assert not (tmp_path / "report").exists()
