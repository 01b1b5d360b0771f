"""Run summaries: numbers computed from the metrics, the Markdown that shows them, the JSON that lists the series."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rethinker.report.markdown import fenced, markdown_cell
from rethinker.report.metrics import load_run
from rethinker.report.plots import Series
from rethinker.report.summary import edge_means, format_duration, format_value, summarize, write_report
from tests.report.runs import finite, write_run, write_samples


def test_edge_means_average_the_first_and_last_tenth() -> None:
    values = [float(v) for v in range(25)]
    assert edge_means(values) == ((0 + 1 + 2) / 3, (22 + 23 + 24) / 3)
    assert edge_means([4.0, 6.0]) == (4.0, 6.0)
    assert edge_means([]) == (None, None)


def test_summarize_computes_accuracy_reward_effective_share_and_time(tmp_path: Path) -> None:
    rows = write_run(tmp_path / "run", steps=30, eval_every=10, seed=4)
    summary = summarize(load_run(tmp_path / "run"))
    accs = finite([row.get("eval/acc") for row in rows])
    rewards = finite([row.get("reward/mean") for row in rows])
    assert (summary.start_acc, summary.start_acc_step) == (accs[0], 0)
    assert (summary.end_acc, summary.end_acc_step) == (accs[-1], 30)
    assert summary.best_acc == max(accs) and rows[summary.best_acc_step]["eval/acc"] == max(accs)
    assert summary.evaluations == 4 and summary.steps == 30
    assert math.isclose(summary.reward_start, sum(rewards[:3]) / 3)
    assert math.isclose(summary.reward_end, sum(rewards[-3:]) / 3)
    assert summary.effective_start == rows[1]["groups/effective_frac"]
    assert summary.effective_end == rows[-1]["groups/effective_frac"]
    assert math.isclose(summary.total_time_s, sum(row["time/step_s"] for row in rows[1:]))


def test_summarize_leaves_missing_metrics_empty(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss/policy": 0.1}\n{"step": 2, "loss/policy": 0.2}\n')
    summary = summarize(load_run(tmp_path))
    assert summary.steps == 2 and summary.evaluations == 0
    assert summary.start_acc is None and summary.best_acc_step is None and summary.total_time_s is None


def test_format_helpers() -> None:
    assert format_value(None) == "-" and format_value(0.41666) == "0.417"
    assert format_duration(None) == "-" and format_duration(4.54) == "4.5s"
    assert format_duration(123.4) == "2m 03s" and format_duration(3 * 3600 + 61) == "3h 01m 01s"


def test_untrusted_text_cannot_break_the_markdown() -> None:
    text = "look: ```` and `code`"
    block = fenced(text)
    fence = block.split("text\n")[0]
    assert len(fence) == 5 and block.endswith("\n" + fence) and text in block
    assert markdown_cell("a | b\n`c`") == "a \\| b 'c'"


def test_report_markdown_and_json_show_the_numbers_figures_and_samples(tmp_path: Path) -> None:
    rows = write_run(tmp_path / "ssr", steps=20, eval_every=5, seed=7)
    write_samples(tmp_path / "ssr" / "samples" / "step-15.jsonl", 15)
    run = load_run(tmp_path / "ssr", "SSR")
    figures = {"reward.png": [Series("SSR", "reward/mean", 20), Series("SSR", "eval/acc", 5)]}
    markdown, data = write_report([run], figures, tmp_path / "out", samples_per_run=2)
    text = markdown.read_text()
    accs = finite([row.get("eval/acc") for row in rows])
    assert f"| held-out accuracy at start | {format_value(accs[0])} at step 0 |" in text
    assert f"| held-out accuracy at end | {format_value(accs[-1])} at step 20 |" in text
    assert f"| best held-out accuracy | {format_value(max(accs))} at step {accs.index(max(accs)) * 5} |" in text
    assert "| metric | SSR |" in text
    assert "![Reward and held-out accuracy](reward.png)" in text
    assert "samples/step-20.jsonl" in text and "(step 20, question 1)" in text and "question 2)" not in text
    assert "![image](../ssr/samples/images/q0-0.png)" in text
    report = json.loads(data.read_text())
    assert report["runs"][0]["label"] == "SSR" and report["runs"][0]["start_acc"] == accs[0]
    assert report["runs"][0]["samples_shown"] == 2
    assert report["figures"]["reward.png"]["series"] == [
        {"label": "SSR", "key": "reward/mean", "points": 20},
        {"label": "SSR", "key": "eval/acc", "points": 5},
    ]


def test_several_runs_get_a_side_by_side_table(tmp_path: Path) -> None:
    first = write_run(tmp_path / "grpo", steps=10, seed=1)
    second = write_run(tmp_path / "ssr", steps=10, seed=2)
    runs = [load_run(tmp_path / "grpo", "GRPO | base"), load_run(tmp_path / "ssr", "SSR")]
    text = write_report(runs, {}, tmp_path / "out")[0].read_text()
    end = [format_value(rows[-1]["eval/acc"]) for rows in (first, second)]
    assert "| metric | GRPO \\| base | SSR |" in text
    assert f"| held-out accuracy at end | {end[0]} at step 10 | {end[1]} at step 10 |" in text
    assert "![image](../grpo/samples/images/q0-0.png)" in text


def test_a_run_without_samples_or_evaluations_still_reports(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"step": 1, "reward/mean": 0.5}\n')
    markdown, data = write_report([load_run(tmp_path / "run")], {}, tmp_path / "out")
    text = markdown.read_text()
    assert "held-out accuracy" not in text, "a row no run has is left out, not shown as a dash"
    assert "| mean reward, first 10% of steps | 0.500 |" in text
    assert "Generations" not in text and "## Figures" not in text
    assert json.loads(data.read_text())["runs"][0]["samples_file"] is None
