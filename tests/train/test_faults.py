"""Fault injection on real tiny runs: kills inside a save, a full disk, NaN from the learning rate and from the reward.

Each case asserts that no good checkpoint is lost, no non-finite checkpoint is written, and that a resume either
continues exactly or says why not. `RETHINKER_FAULT=NAME[@STEP]` (see `train.checkpoint.fault_point`) kills the
process, or raises "no space left on device", at a named point.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from rethinker.config import ConfigError, RLConfig, dump_config, load_config
from rethinker.data.errors import DataError
from rethinker.errors import UserError
from rethinker.telemetry import DiskFullError, MetricsLogger, run_state_metrics
from rethinker.train.checkpoint import LATEST
from rethinker.train.grpo import GRPOTrainer
from rethinker.train.resume_config import config_changes
from rethinker.train.sft import SFTTrainer
from rethinker.train.update import NonFiniteTrainingError
from tests.conftest import SMALL_RUN
from tests.train.test_sft import _config as sft_config


def _train(rethinker_cli, run_dir: Path, *overrides: str, **env: str) -> subprocess.CompletedProcess[str]:
    return rethinker_cli("train", "tiny", f"run_dir={run_dir}", *SMALL_RUN, *overrides, **env)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _checkpoints(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("step-*"))


def _all_finite(checkpoint: Path) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_file(checkpoint / "model.safetensors").values())


def _reward_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad_reward.py"
    path.write_text("from rethinker.rewards.types import RewardResult\n\n\ndef score(response, example):\n" + body)
    return f"{path}:score"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optim.lr=.inf", "optim.lr=inf"),
        ("algo.kl_coef=.nan", "algo.kl_coef=nan"),
        ("optim.betas=[0.9, 1e999]", "optim.betas.1=inf"),
    ],
)
def test_non_finite_config_numbers_are_refused_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        load_config(RLConfig, "tiny", [override])


def test_train_refuses_an_infinite_learning_rate_before_writing_anything(
    tmp_path: Path, rethinker_cli, user_error
) -> None:
    result = _train(rethinker_cli, tmp_path / "run", "optim.lr=.inf")
    user_error(result, "optim.lr=inf", "finite")
    assert not (tmp_path / "run").exists()


def test_a_diverging_learning_rate_stops_cleanly_without_nan_checkpoints(
    tmp_path: Path, tiny_dir: Path, rethinker_cli, user_error
) -> None:
    run_dir = tmp_path / "run"
    result = _train(rethinker_cli, run_dir, "optim.lr=1e30", "train.steps=8", "checkpoint.every=1", "checkpoint.keep=1")
    user_error(result, "3 updates in a row", "train.max_nonfinite_in_a_row=3", "optim.lr", "step-1")
    assert "final checkpoint" not in result.stdout
    rows = _rows(run_dir)
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert [row["train/nonfinite"] for row in rows] == [0.0, 1.0, 1.0, 1.0]
    assert rows[-1]["train/skipped_nonfinite"] == 3.0
    assert _checkpoints(run_dir) == ["step-1"], "the good checkpoint is neither pruned nor replaced"
    assert _all_finite(run_dir / "checkpoints" / "step-1")


def test_a_reward_result_holding_nan_is_an_error_naming_the_reward_and_sample(
    tmp_path: Path, tiny_dir: Path, rethinker_cli, user_error
) -> None:
    spec = _reward_file(tmp_path, "    return RewardResult(float('nan'), False, None, 'custom')\n")
    result = _train(rethinker_cli, tmp_path / "run", f"reward.fn={spec}", "train.steps=1")
    user_error(result, f"reward {spec!r} returned a RewardResult with reward nan for example", "finite number")
    assert "histogram" not in result.stderr


def test_an_overflowing_reward_skips_updates_and_never_changes_the_model(tmp_path: Path, tiny_config) -> None:
    spec = _reward_file(tmp_path, "    return 1e308 if len(response) % 2 else 0.0\n")
    config = tiny_config(tmp_path / "run", f"reward.fn={spec}", "train.steps=3", "train.max_nonfinite_in_a_row=5")
    trainer = GRPOTrainer(config)
    before = {name: p.detach().clone() for name, p in trainer.policy.model.named_parameters()}
    final = trainer.fit()
    assert all(torch.equal(before[name], p) for name, p in trainer.policy.model.named_parameters())
    rows = _rows(tmp_path / "run")
    assert [row["train/nonfinite"] for row in rows] == [1.0, 1.0, 1.0]
    assert rows[-1]["train/skipped_nonfinite"] == 3.0
    assert _all_finite(final)


def test_updates_stop_after_the_configured_number_of_non_finite_steps(tmp_path: Path, tiny_config) -> None:
    spec = _reward_file(tmp_path, "    return 1e308 if len(response) % 2 else 0.0\n")
    trainer = GRPOTrainer(tiny_config(tmp_path, f"reward.fn={spec}", "train.steps=4", "train.max_nonfinite_in_a_row=2"))
    with pytest.raises(NonFiniteTrainingError, match="2 updates in a row"):
        trainer.fit()
    assert len(_rows(tmp_path)) == 2


def test_sft_skips_non_finite_updates_and_stops_without_saving_them(tmp_path: Path, tiny_dir: Path) -> None:
    config = sft_config(tiny_dir, tmp_path, "optim.lr=1e30", "train.steps=6", "checkpoint.every=1")
    with pytest.raises(NonFiniteTrainingError, match="3 updates in a row.*step-1"):
        SFTTrainer(config).fit()
    rows = _rows(tmp_path)
    assert [row["train/nonfinite"] for row in rows] == [0.0, 1.0, 1.0, 1.0]
    assert _checkpoints(tmp_path) == ["step-1"] and _all_finite(tmp_path / "checkpoints" / "step-1")


def test_a_kill_inside_the_final_save_resumes_exactly(tmp_path: Path, tiny_dir: Path, rethinker_cli) -> None:
    schedule = ("train.steps=4", "checkpoint.every=2", "optim.schedule=cosine")
    GRPOTrainer(load_config(RLConfig, "tiny", [f"run_dir={tmp_path / 'straight'}", *SMALL_RUN, *schedule])).fit()
    run_dir = tmp_path / "killed"
    killed = _train(rethinker_cli, run_dir, *schedule, RETHINKER_FAULT="save-before-rename@4")
    assert killed.returncode == -9
    assert (run_dir / "checkpoints" / ".tmp-step-4").is_dir()
    assert (run_dir / "checkpoints" / LATEST).read_text() == "step-2"
    resumed = _train(rethinker_cli, run_dir, *schedule, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "final checkpoint" in resumed.stdout and "step-4" in resumed.stdout
    assert _checkpoints(run_dir) == ["step-2", "step-4"]
    assert not (run_dir / "checkpoints" / ".tmp-step-4").exists()
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-4" / "model.safetensors")
    b = load_file(run_dir / "checkpoints" / "step-4" / "model.safetensors")
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert [run_state_metrics(r) for r in _rows(tmp_path / "straight")] == [
        run_state_metrics(r) for r in _rows(run_dir)
    ]


@pytest.mark.parametrize("pointer", [None, "step-1", "step-7"])
def test_a_resume_falls_back_to_the_newest_complete_checkpoint(
    tmp_path: Path, tiny_config, caplog, pointer: str | None
) -> None:
    """What a kill leaves between the rename and the pointer update, a lost pointer, or one naming a missing step."""
    overrides = ("train.steps=3", "checkpoint.every=1", "checkpoint.keep=3")
    trainer = GRPOTrainer(tiny_config(tmp_path, *overrides))
    for _ in range(2):
        trainer.logger.log(trainer.step + 1, trainer.train_step())
        trainer.save()
    trainer.logger.close()
    trainer.verifier.close()
    latest = tmp_path / "checkpoints" / LATEST
    latest.unlink()
    if pointer is not None:
        latest.write_text(pointer)
    (tmp_path / "checkpoints" / "step-3").mkdir()
    resumed = GRPOTrainer(tiny_config(tmp_path, *overrides, "resume=true"))
    assert resumed.step == 2 and "using step-2, the newest complete checkpoint" in caplog.text
    assert latest.read_text() == "step-2"
    resumed.fit()
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2, 3]


def test_a_resume_without_a_complete_checkpoint_says_it_starts_over(tmp_path: Path, tiny_config, caplog) -> None:
    (tmp_path / "checkpoints" / "step-2").mkdir(parents=True)
    trainer = GRPOTrainer(tiny_config(tmp_path, "resume=true"))
    assert trainer.step == 0
    assert "no complete checkpoint (incomplete: step-2): starting at step 0" in caplog.text


def test_a_full_disk_is_reported_in_one_line_and_the_partial_checkpoint_removed(
    tmp_path: Path, tiny_config, monkeypatch
) -> None:
    overrides = ("train.steps=2", "checkpoint.every=1")
    monkeypatch.setenv("RETHINKER_FAULT", "enospc-in-save@2")
    with pytest.raises(DiskFullError, match=r"no space left on device at .*checkpoints \(needed about \d+\.\d MB\)"):
        GRPOTrainer(tiny_config(tmp_path, *overrides)).fit()
    assert _checkpoints(tmp_path) == ["step-1"] and not list((tmp_path / "checkpoints").glob(".tmp-*"))
    monkeypatch.delenv("RETHINKER_FAULT")
    GRPOTrainer(tiny_config(tmp_path, *overrides, "resume=true")).fit()
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2]
    assert _checkpoints(tmp_path) == ["step-1", "step-2"]


def test_a_metrics_line_cut_short_by_a_full_disk_is_removed(tmp_path: Path, monkeypatch) -> None:
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log(1, {"loss": 0.5})
    before = (tmp_path / "metrics.jsonl").read_bytes()
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:7]))
    with pytest.raises(DiskFullError, match="no space left on device at .*metrics.jsonl"):
        logger.log(2, {"loss": 0.25})
    assert (tmp_path / "metrics.jsonl").read_bytes() == before


@pytest.mark.slow
def test_a_full_tmpfs_is_reported_and_keeps_the_earlier_checkpoint(
    tmp_path: Path, tiny_dir: Path, rethinker_cli, user_error
) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here; the simulated full disk covers this")
    try:
        run_dir = mount / "run"
        result = _train(rethinker_cli, run_dir, "train.steps=3", "checkpoint.every=1", "checkpoint.keep=3")
        user_error(result, f"no space left on device at {run_dir}", "needed about")
        assert _checkpoints(run_dir) == ["step-1"] and not list((run_dir / "checkpoints").glob(".tmp-*"))
        assert _all_finite(run_dir / "checkpoints" / "step-1")
        assert [row["step"] for row in _rows(run_dir)] == [1, 2]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_torn_last_metrics_line_is_dropped_on_resume(tmp_path: Path, tiny_config, caplog) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "checkpoint.every=1"))
    trainer.logger.log(1, trainer.train_step())
    trainer.save()
    trainer.logger.close()
    trainer.verifier.close()
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 2, "reward/me')
    resumed = GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "checkpoint.every=1", "resume=true"))
    assert "torn last line" in caplog.text
    resumed.fit()
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2]


def test_a_refused_fresh_run_keeps_the_saved_config(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path, "train.steps=1")).fit()
    saved = (tmp_path / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="already holds a run"):
        GRPOTrainer(tiny_config(tmp_path, "train.steps=1", "seed=5"))
    assert (tmp_path / "config.yaml").read_text() == saved


def test_a_resume_refuses_settings_that_break_exactness_unless_forced(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path, "train.steps=1")).fit()
    saved = (tmp_path / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"rollout.group_size 4 -> 2, seed 0 -> 1 .*resume_force=true"):
        GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "resume=true", "seed=1", "rollout.group_size=2"))
    assert (tmp_path / "config.yaml").read_text() == saved
    forced = GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "resume=true", "seed=1", "resume_force=true"))
    forced.fit()
    record = json.loads((tmp_path / "config_changes.jsonl").read_text())
    assert record["step"] == 1 and record["forced"] is True
    assert record["changes"]["seed"] == [0, 1] and record["changes"]["train.steps"] == [1, 2]
    assert _rows(tmp_path)[-1]["resume/config_changes"] == 2.0
    assert "seed: 1" in (tmp_path / "config.yaml").read_text()


def test_a_resume_accepts_changes_that_keep_it_exact(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path, "train.steps=1")).fit()
    GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "resume=true", "eval.every=5")).fit()
    record = json.loads((tmp_path / "config_changes.jsonl").read_text())
    assert record["forced"] is False and set(record["changes"]) == {"eval.every", "train.steps"}


def test_a_rerun_without_a_checkpoint_starts_clean_and_says_so(tmp_path: Path, tiny_config, caplog) -> None:
    stale = [{"step": step, "reward/mean": 9.0} for step in range(6)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in stale))
    GRPOTrainer(tiny_config(tmp_path, "train.steps=2")).fit()
    assert "holds no checkpoint: starting at step 0" in caplog.text
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2]
    assert (tmp_path / "metrics.jsonl.abandoned").read_text().count("\n") == 6


def _image_dataset(tmp_path: Path, png) -> Path:
    rows = []
    for index in range(8):
        image = tmp_path / f"img{index}.png"
        image.write_bytes(b"not an image at all" if index % 4 == 1 else png())
        rows.append({"id": f"ex{index}", "question": "How many dots?", "answer": "2", "images": [image.name]})
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def png():
    from tests.data.conftest import encode_png

    return encode_png


def test_skip_covers_images_that_fail_when_first_used(tmp_path: Path, tiny_config, png) -> None:
    data = _image_dataset(tmp_path, png)
    source = ("data.source=file", f"data.path={data}", f"data.eval_path={data}", "data.shuffle=false")
    run_dir = tmp_path / "run"
    with pytest.raises(DataError, match="img1.png"):
        GRPOTrainer(tiny_config(run_dir, *source, "train.steps=1")).fit()
    overrides = (*source, "data.on_error=skip", "train.steps=2", "eval.every=2", "checkpoint.every=1")
    GRPOTrainer(tiny_config(tmp_path / "skip", *overrides)).fit()
    rows = _rows(tmp_path / "skip")
    assert rows[-1]["data/skipped"] == 3, "rows 1, 5, then 1 again in the second epoch (order 0..7, no shuffle)"
    assert rows[-1]["eval/skipped"] == 2 and "eval/acc" in rows[-1]


def test_a_torn_line_inside_the_metrics_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')
    with pytest.raises(UserError, match=r"metrics.jsonl line 2: not valid JSON"):
        MetricsLogger(tmp_path, tensorboard=False).truncate_after(1)


def test_a_setting_missing_from_an_older_config_is_no_change_at_its_default() -> None:
    new = yaml.safe_load(dump_config(RLConfig(seed=3)))
    old = {key: value for key, value in new.items() if key != "resume_force"}
    old["train"] = {key: value for key, value in new["train"].items() if key != "max_nonfinite_in_a_row"}
    assert config_changes(old, new) == {}
    assert config_changes({**old, "seed": 2}, new) == {"seed": (2, 3)}
