"""The `rethinker` command: train from overrides alone, report accuracy at start and end, name bad keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.cli import main


def test_train_prints_held_out_accuracy_at_start_and_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    overrides = [
        f"run_dir={tmp_path}",
        "train.steps=1",
        "train.queries_per_episode=2",
        "rollout.group_size=2",
        "rollout.max_new_tokens=8",
        "data.synthetic.train_size=8",
        "data.synthetic.eval_size=4",
        "eval.size=4",
        "logging.progress=false",
        "logging.tensorboard=false",
    ]
    assert main(["train", *overrides]) == 0
    out = capsys.readouterr().out
    assert "final checkpoint:" in out and "held-out accuracy:" in out and "at step 0 ->" in out and "at step 1" in out


def test_unknown_key_exits_with_a_message(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "train.stepz=3"]) == 2
    assert "train.stepz" in capsys.readouterr().err


def test_tiny_builds_the_family_asked_for(tmp_path: Path) -> None:
    assert main(["tiny", "--out", str(tmp_path / "q3"), "--family", "qwen3_vl"]) == 0
    config = json.loads((tmp_path / "q3" / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"
    assert main(["tiny", "--out", str(tmp_path / "w"), "--family", "qwen2_vl", "--pretrain"]) == 2
