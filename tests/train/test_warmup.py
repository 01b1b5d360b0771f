"""The supervised warm-up behind the packaged start: its curve file, plateau, and the default run's closing lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.models.paths import resolve_model_path
from rethinker.train.warmup import SFT_CURVE, plateau, pretrain_tiny, supervised_start_lines


def test_plateau_is_the_mean_of_the_last_evaluations() -> None:
    curve = [[50, 0.1], [100, 0.5], [150, 0.6], [200, 0.7], [250, 0.6], [300, 0.7]]
    assert plateau(curve) == (pytest.approx(0.65), 150, 300)
    assert plateau([[10, 0.4]]) == (0.4, 10, 10)


def test_closing_lines_name_the_plateau_and_rl_gain(tmp_path: Path) -> None:
    assert supervised_start_lines(tmp_path, 0.9) == []
    (tmp_path / SFT_CURVE).write_text(
        json.dumps({"curve": [[100, 0.2], [200, 0.6], [300, 0.7], [400, 0.6], [500, 0.7]]})
    )
    lines = supervised_start_lines(tmp_path, 0.9)
    assert lines[0].startswith("supervised plateau of the start: 0.650 (held-out at SFT steps 200-500: 0.600 0.700")
    assert lines[1] == "RL gain over the supervised plateau: +0.250"


def test_pretrain_writes_the_model_and_its_accuracy_curve(tmp_path: Path, tiny_dir: Path) -> None:
    out = pretrain_tiny(tmp_path / "warm", ["train.steps=2", "data.synthetic.size=32"], False, every=1, eval_size=4)
    curve = json.loads((out / SFT_CURVE).read_text())["curve"]
    assert [step for step, _ in curve] == [1, 2]
    assert all(0.0 <= acc <= 1.0 for _, acc in curve)
    assert (out / "config.json").is_file() and not (out / "trainer_state.pt").exists()


def test_packaged_start_is_on_its_supervised_plateau() -> None:
    curve = json.loads((resolve_model_path("tiny") / SFT_CURVE).read_text())["curve"]
    level, first, last = plateau(curve)
    last_evals = [acc for _, acc in curve[-4:]]
    assert last - first >= 150, "the plateau spans several evaluations"
    assert max(last_evals) - min(last_evals) <= 0.12, f"accuracy still moving at the end of SFT: {last_evals}"
    assert 0.5 <= level <= 0.8, "the imperfect teacher caps the supervised model below what RL can reach"


def test_default_train_closing_lines_show_the_plateau(tmp_path: Path, rethinker_cli) -> None:
    result = rethinker_cli(
        "train",
        f"run_dir={tmp_path}",
        "train.steps=1",
        "train.queries_per_episode=2",
        "rollout.group_size=2",
        "data.synthetic.train_size=8",
        "data.synthetic.eval_size=8",
        "eval.size=8",
        "logging.progress=false",
        "logging.tensorboard=false",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    curve = json.loads((resolve_model_path("tiny") / SFT_CURVE).read_text())["curve"]
    level = plateau(curve)[0]
    assert f"supervised plateau of the start: {level:.3f}" in lines[-2]
    end = float(lines[-3].split("->")[1].split()[0])
    assert lines[-1] == f"RL gain over the supervised plateau: {end - level:+.3f}"


def test_tiny_pretrain_runs_the_warm_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rethinker import cli
    from rethinker.train import warmup

    calls = []
    monkeypatch.setattr(warmup, "pretrain_tiny", lambda out: calls.append(out) or out)
    assert cli.main(["tiny", "--pretrain", "--out", str(tmp_path / "warm")]) == 0
    assert calls == [tmp_path / "warm"], "--pretrain runs the supervised warm-up, not the random builder"


@pytest.mark.slow
def test_tiny_pretrain_command_reproduces_the_packaged_start(tmp_path: Path, rethinker_cli) -> None:
    result = rethinker_cli("tiny", "--pretrain", "--out", str(tmp_path / "warm"))
    assert result.returncode == 0, result.stderr
    assert "warm-up" in result.stderr and "held_out=" in result.stderr, "the warm-up shows its progress"
    rebuilt = json.loads((tmp_path / "warm" / SFT_CURVE).read_text())["curve"]
    assert rebuilt == json.loads((resolve_model_path("tiny") / SFT_CURVE).read_text())["curve"]
