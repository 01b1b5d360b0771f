"""A run in which no group ever has different rewards warns in the log, the progress bar, the metrics and the report."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rethinker.telemetry import NO_SIGNAL_METRIC, NO_SIGNAL_WARN_STEPS, flag_no_signal, progress_bar
from rethinker.train.grpo import GRPOTrainer


def test_flat_steps_count_up_warn_on_the_bar_and_reset(caplog: pytest.LogCaptureFixture) -> None:
    bar = progress_bar(10, 0, False, "train")
    flat = {"groups/effective_frac": 0.0, "reward/mean": 0.0}
    with caplog.at_level(logging.WARNING, logger="rethinker.telemetry"):
        streaks = [flag_no_signal(bar, dict(flat))[NO_SIGNAL_METRIC] for _ in range(NO_SIGNAL_WARN_STEPS)]
    assert streaks == [float(n) for n in range(1, NO_SIGNAL_WARN_STEPS + 1)]
    assert "NO LEARNING SIGNAL" in bar.desc
    assert "format or template mismatch" in caplog.text
    assert flag_no_signal(bar, {"groups/effective_frac": 0.25, "reward/mean": 0.1}) == {NO_SIGNAL_METRIC: 0.0}
    assert bar.desc == "train"


def test_zero_reward_run_warns_and_the_report_shows_it(
    tmp_path: Path,
    tiny_config: Callable[..., Any],
    rethinker_cli: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_dir = tmp_path / "flat"
    steps = NO_SIGNAL_WARN_STEPS + 1
    config = tiny_config(run_dir, "reward.fn=hfrrf", "prompt.template=r1", f"train.steps={steps}")
    with caplog.at_level(logging.WARNING, logger="rethinker.telemetry"):
        GRPOTrainer(config).fit()
    assert "no learning signal for 5 steps" in caplog.text
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row[NO_SIGNAL_METRIC] for row in rows if NO_SIGNAL_METRIC in row] == [float(n) for n in range(1, steps + 1)]

    result = rethinker_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "WARNING flat: no learning signal for 6 steps" in result.stderr
    report = (run_dir / "report" / "report.md").read_text()
    assert "> **Warning:** flat: no learning signal for 6 steps" in report
    assert "format or template mismatch" in report and "&lt;think>" in report
    data = json.loads((run_dir / "report" / "report.json").read_text())
    assert "format or template mismatch" in data["runs"][0]["warnings"][0]
