"""The tiny Vision-R1 pipeline as its script runs it: cold start -> SFT -> PTST with HFRRF, format rate rising."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "vision_r1_tiny" / "run.sh"


def run_pipeline(out: Path, timeout: float, **env: str) -> dict[str, Any]:
    """Run the script into `out` and return its summary.json."""
    result = subprocess.run(
        ["bash", str(SCRIPT), str(out), "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "after_ptst: accuracy" in result.stdout
    return json.loads((out / "summary.json").read_text())


def test_pipeline_glue_passes_cold_start_records_through_sft_into_ptst(tmp_path: Path) -> None:
    summary = run_pipeline(tmp_path, 300, VR1_SIZE="12", VR1_SFT_STEPS="2", VR1_RL_STEPS="1", VR1_EVAL_SIZE="8")
    assert summary["coldstart"] == {"kept": 12, "dropped": 0}
    records = [json.loads(line) for line in (tmp_path / "cold" / "coldstart.jsonl").read_text().splitlines()]
    assert all(record["conversations"][1]["value"].startswith("<think>") for record in records)
    sft_rows = [json.loads(line) for line in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert max(row["step"] for row in sft_rows) == 2
    rl_config = (tmp_path / "rl" / "config.yaml").read_text()
    assert "sft/checkpoints/step-2" in rl_config and "fn: hfrrf" in rl_config
    assert [point["step"] for point in summary["ptst_curve"]] == [0, 1, 2]
    assert 0.0 <= summary["after_ptst"]["format_rate"] <= 1.0


@pytest.mark.slow
def test_pipeline_raises_format_rate_and_accuracy_over_the_base_model(tmp_path: Path) -> None:
    summary = run_pipeline(tmp_path, 2400)
    assert summary["coldstart"]["kept"] >= 4000
    assert summary["base"]["format_rate"] <= 0.05
    assert summary["zero_end"]["format_rate"] <= 0.05
    assert summary["after_sft"]["format_rate"] >= 0.9
    assert summary["after_ptst"]["format_rate"] >= 0.9
    assert summary["after_ptst"]["hfrrf"] >= summary["base"]["acc"] + 0.2
