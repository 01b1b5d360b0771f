"""GRPO on the real tiny model: updates act, zero-advantage groups do nothing, KL is exact, resume is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForImageTextToText

from rethinker.config import ConfigError
from rethinker.errors import UserError
from rethinker.telemetry import run_state_metrics
from rethinker.train import grpo
from rethinker.train.grpo import GRPOTrainer

PUBLIC_METRICS = {
    "step",
    "reward/mean",
    "acc/mean",
    "groups/effective_frac",
    "groups/all_correct_frac",
    "groups/all_wrong_frac",
    "batch/size",
    "adv/abs_mean",
    "response/len_mean",
    "loss/policy",
    "loss/kl",
    "time/rollout_s",
    "time/update_s",
    "time/step_s",
}


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_one_update_changes_parameters_and_logs_public_metrics(tmp_path: Path, tiny_config) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=1", "eval.at_start=true", "eval.every=1"))
    before = _params(trainer.policy.model)
    final = trainer.fit()
    after = _params(trainer.policy.model)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    rows = _metrics(tmp_path)
    assert rows[0]["step"] == 0 and "eval/acc" in rows[0]
    assert PUBLIC_METRICS <= set(rows[1]) and "eval/acc" in rows[1]
    assert rows[1]["groups/effective_frac"] > 0 and rows[1]["adv/abs_mean"] > 0
    assert list((tmp_path / "samples").glob("step-*.jsonl"))
    reloaded = AutoModelForImageTextToText.from_pretrained(final)
    assert all(torch.equal(p, after[n]) for n, p in reloaded.named_parameters())


def test_groups_with_equal_rewards_change_nothing(tmp_path: Path, tiny_config, parity_reward) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=1", f"reward.fn={parity_reward}:constant"))
    before = _params(trainer.policy.model)
    trainer.fit()
    after = _params(trainer.policy.model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    row = _metrics(tmp_path)[-1]
    assert row["groups/effective_frac"] == 0.0 and row["grad_norm"] == 0.0 and row["loss/policy"] == 0.0


def test_no_reference_model_without_kl(tmp_path: Path, tiny_config) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path))
    assert trainer.policy.ref_model is None


def test_kl_is_zero_against_an_identical_reference(tmp_path: Path, tiny_config) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=2", "algo.kl_coef=0.1", "algo.kl_type=k3"))
    assert trainer.policy.ref_model is not None
    trainer.fit()
    first, second = _metrics(tmp_path)
    assert abs(first["loss/kl"]) < 1e-12, "identical weights: zero up to float rounding (grad vs no-grad kernels)"
    assert second["loss/kl"] > 1e-9


def _without_times(rows: list[dict]) -> list[dict]:
    return [run_state_metrics(row) for row in rows]


def test_resume_continues_exactly(tmp_path: Path, tiny_config) -> None:
    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    overrides = ("train.steps=4", "optim.schedule=cosine", "optim.warmup_frac=0.25")
    straight = GRPOTrainer(tiny_config(straight_dir, *overrides))
    straight.fit()

    interrupted = GRPOTrainer(tiny_config(resumed_dir, *overrides))
    for _ in range(2):
        metrics = interrupted.train_step()
        interrupted.logger.log(interrupted.step, metrics)
    interrupted.save()
    interrupted.train_step()
    interrupted.logger.log(interrupted.step, {"reward/mean": -1.0})
    interrupted.logger.close()
    interrupted.verifier.close()

    resumed = GRPOTrainer(tiny_config(resumed_dir, *overrides, "resume=true"))
    assert resumed.step == 2
    resumed.fit()
    a, b = _params(straight.policy.model), _params(resumed.policy.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _without_times(_metrics(straight_dir)) == _without_times(_metrics(resumed_dir))


def test_checkpoints_after_a_resume_stay_loadable_with_keep_one(tmp_path: Path, tiny_config) -> None:
    overrides = ("train.steps=3", "checkpoint.every=1", "checkpoint.keep=1")
    first = GRPOTrainer(tiny_config(tmp_path, *overrides))
    first.logger.log(1, first.train_step())
    first.save()
    first.logger.close()
    first.verifier.close()
    final = GRPOTrainer(tiny_config(tmp_path, *overrides, "resume=true")).fit()
    assert [p.name for p in (tmp_path / "checkpoints").glob("step-*")] == ["step-3"]
    assert (final / "tokenizer.json").is_file() and (final / "preprocessor_config.json").is_file()
    AutoModelForImageTextToText.from_pretrained(final)


def test_engine_sleeps_for_the_update_and_gets_the_new_weights_after_it(tmp_path: Path, tiny_config) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=1"))
    engine, weight = trainer.policy.engine, trainer.policy.model.lm_head.weight
    before = weight.detach().clone()
    events: list[tuple[str, bool]] = []
    engine.sleep = lambda: events.append(("sleep", torch.equal(weight, before)))
    engine.sync_weights = lambda: events.append(("sync", torch.equal(weight, before)))
    trainer.train_step()
    assert events == [("sleep", True), ("sync", False)]


def test_step_time_breakdown_adds_up(tmp_path: Path, tiny_config) -> None:
    metrics = GRPOTrainer(tiny_config(tmp_path, "train.steps=1")).train_step()
    update_parts = [metrics[f"time/{part}_s"] for part in ("forward", "backward", "optimizer")]
    assert all(part > 0 for part in update_parts)
    assert sum(update_parts) <= metrics["time/update_s"]
    assert 0 < metrics["time/generate_s"] and 0 <= metrics["time/reward_s"]
    assert metrics["time/generate_s"] + metrics["time/reward_s"] <= metrics["time/rollout_s"]
    assert metrics["time/rollout_s"] + metrics["time/update_s"] <= metrics["time/step_s"]


def test_rollout_fetches_prompts_one_engine_batch_at_a_time(tmp_path: Path, tiny_config) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, "train.steps=1", "rollout.batch_size=8"))
    engine, calls = trainer.policy.engine, []
    generate = engine.generate
    engine.generate = lambda prompts, params: calls.append(len(prompts)) or generate(prompts, params)
    trainer.train_step()
    assert calls == [2, 2]
    assert trainer.train_bank.metrics()["prompts/pixel_misses"] >= 4


def test_a_fresh_run_refuses_a_run_dir_that_holds_a_checkpoint(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path, "train.steps=1")).fit()
    rows = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="resume=true"):
        GRPOTrainer(tiny_config(tmp_path, "train.steps=1"))
    assert (tmp_path / "metrics.jsonl").read_text() == rows
    resumed = GRPOTrainer(tiny_config(tmp_path, "train.steps=1", "resume=true"))
    assert resumed.step == 1
    resumed.fit()
    assert (tmp_path / "metrics.jsonl").read_text() == rows


def test_a_bad_template_is_reported_before_the_model_loads(tmp_path: Path, tiny_config, monkeypatch) -> None:
    def load_policy(*args: object) -> None:
        raise AssertionError("the model was loaded before the template was checked")

    monkeypatch.setattr(grpo, "load_policy", load_policy)
    with pytest.raises(UserError, match="'nonsense' is neither a known name"):
        GRPOTrainer(tiny_config(tmp_path, "prompt.template=nonsense"))
