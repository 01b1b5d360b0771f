"""Replay on the tiny model: SSR keeps update batches fully effective, plain GRPO does not; resume keeps the buffer."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rethinker.telemetry import run_state_metrics
from rethinker.train.grpo import GRPOTrainer


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _saturated(tiny_config, run_dir: Path, parity_reward: str, *overrides: str):
    return tiny_config(
        run_dir,
        f"reward.fn={parity_reward}:saturated_except_counting",
        "train.queries_per_episode=10",
        "train.update_batch_size=20",
        *overrides,
    )


def test_ssr_fills_batches_with_effective_samples_while_none_does_not(
    tmp_path: Path, tiny_config, parity_reward
) -> None:
    GRPOTrainer(_saturated(tiny_config, tmp_path / "none", parity_reward, "train.steps=2")).fit()
    GRPOTrainer(_saturated(tiny_config, tmp_path / "ssr", parity_reward, "train.steps=2", "replay.mode=ssr")).fit()
    plain, ssr = _rows(tmp_path / "none"), _rows(tmp_path / "ssr")
    assert all(row["groups/effective_frac"] < 0.5 for row in plain + ssr)
    assert all(row["batch/effective_frac"] < 1.0 for row in plain)
    assert all(row["batch/replay_frac"] == 0.0 for row in plain)
    assert all(row["batch/effective_frac"] == 1.0 and row["batch/size"] == 20 for row in ssr)
    assert all(row["batch/replay_frac"] > 0.0 and row["replay/buffer_size"] > 0 for row in ssr)


def test_filter_drops_zero_advantage_samples_without_refill(tmp_path: Path, tiny_config, parity_reward) -> None:
    GRPOTrainer(_saturated(tiny_config, tmp_path, parity_reward, "train.steps=1", "replay.mode=filter")).fit()
    row = _rows(tmp_path)[-1]
    assert row["batch/effective_frac"] == 1.0 and row["batch/replay_frac"] == 0.0 and row["batch/size"] < 20


def test_dapo_reports_rounds_and_keeps_only_mixed_groups(tmp_path: Path, tiny_config, parity_reward) -> None:
    config = _saturated(
        tiny_config, tmp_path, parity_reward, "train.steps=1", "replay.mode=dapo", "replay.dapo_max_rounds=2"
    )
    GRPOTrainer(config).fit()
    row = _rows(tmp_path)[-1]
    assert row["dapo/rounds"] == 2.0 and row["dapo/filled"] == 0.0
    assert row["batch/effective_frac"] == 1.0
    assert row["rollout/samples_total"] == 2 * 10 * 4


def test_resume_mid_episode_keeps_the_buffer(tmp_path: Path, tiny_config, parity_reward) -> None:
    overrides = ("train.steps=3", "replay.mode=ssr", "replay.lifetime=persistent", "replay.capacity=50")
    straight = GRPOTrainer(_saturated(tiny_config, tmp_path / "a", parity_reward, *overrides))
    straight.fit()
    interrupted = GRPOTrainer(_saturated(tiny_config, tmp_path / "b", parity_reward, *overrides))
    interrupted.logger.log(1, interrupted.train_step())
    interrupted.save()
    buffer_size = len(interrupted.replay.buffer)
    interrupted.logger.close()
    interrupted.verifier.close()
    resumed = GRPOTrainer(_saturated(tiny_config, tmp_path / "b", parity_reward, *overrides, "resume=true"))
    assert len(resumed.replay.buffer) == buffer_size > 0 and len(resumed.pending) == len(interrupted.pending) == 1
    resumed.fit()
    a = dict(straight.policy.model.named_parameters())
    assert all(torch.equal(a[name], p) for name, p in resumed.policy.model.named_parameters())
    strip = [run_state_metrics(r) for r in _rows(tmp_path / "a")]
    assert strip == [run_state_metrics(r) for r in _rows(tmp_path / "b")]
