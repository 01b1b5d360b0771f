"""PTST stages: pure stage lookup, and a two-stage run whose metrics change at the boundary and resume in stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.config import ConfigError, RLConfig, Stage, load_config, stage_at
from rethinker.telemetry import run_state_metrics
from rethinker.train.grpo import GRPOTrainer

STAGES = "stages=[{steps: 2, max_new_tokens: 8, group_size: 4}, {steps: 2, max_new_tokens: 4, group_size: 2}]"


def test_stage_at_boundaries() -> None:
    stages = [Stage(steps=2, max_new_tokens=8, group_size=4), Stage(steps=3, max_new_tokens=4, group_size=2)]
    assert [stage_at(stages, step) for step in range(7)] == [0, 0, 1, 1, 1, 1, 1]


def test_stages_must_cover_the_training_steps() -> None:
    with pytest.raises(ConfigError, match="stages last 4 steps"):
        load_config(RLConfig, None, [STAGES, "train.steps=5"])


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_stage_run_changes_group_size_and_length_and_resumes_in_stage(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path / "a", STAGES, "train.steps=4")).fit()
    rows = _rows(tmp_path / "a")
    assert [r["stage/index"] for r in rows] == [0, 0, 1, 1]
    assert [r["stage/group_size"] for r in rows] == [4, 4, 2, 2]
    assert [r["batch/size"] for r in rows] == [16, 16, 8, 8]
    assert all(r["response/len_mean"] <= 4 for r in rows[2:])

    interrupted = GRPOTrainer(tiny_config(tmp_path / "b", STAGES, "train.steps=4"))
    for _ in range(3):
        interrupted.logger.log(interrupted.step + 1, interrupted.train_step())
    interrupted.save()
    interrupted.logger.close()
    interrupted.verifier.close()
    resumed = GRPOTrainer(tiny_config(tmp_path / "b", STAGES, "train.steps=4", "resume=true"))
    assert resumed.step == 3 and resumed.rollout_settings.group_size == 2
    resumed.fit()
    strip = [run_state_metrics(r) for r in _rows(tmp_path / "b")]
    assert strip == [run_state_metrics(r) for r in rows]
