"""Selective Sample Replay as the tiny model saturates a task it learns during the run, read from `metrics.jsonl`.

The packaged warm start counts the dots (it rarely answers anything else); the plug-in reward pays for one fixed
answer, which a high learning rate teaches in a couple of dozen updates. Groups turn mixed as the answer spreads, then
all-correct, and their advantages vanish: `groups/effective_frac` falls from its peak. Under `ssr` every update batch
(once any group has a signal) stays fully effective by replaying stored samples; under `none` the update batches carry
the zero-advantage samples. Both modes share the seed and every other setting.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.train.grpo import GRPOTrainer

REWARD = Path(__file__).parent / "fixed_answer_reward.py"
STEPS = 24
WINDOW = 3
QUERIES = 6
GROUP_SIZE = 8
GROUPS_FALL_MARGIN = 0.2
ACCURACY_RISE_MARGIN = 0.2
LEARNED_ACCURACY = 0.9


def _step_rows(tiny_config, run_dir: Path, mode: str) -> list[dict[str, float]]:
    """Train from the packaged warm start on the fixed-answer reward; the per-update rows of `metrics.jsonl`."""
    config = tiny_config(
        run_dir,
        "model.path=tiny",
        "data.synthetic.families=[count]",
        f"reward.fn={REWARD}:score",
        f"train.steps={STEPS}",
        f"train.queries_per_episode={QUERIES}",
        f"rollout.group_size={GROUP_SIZE}",
        "rollout.max_new_tokens=16",
        "optim.lr=5e-4",
        "replay.lifetime=persistent",
        f"replay.capacity={2 * QUERIES * GROUP_SIZE}",
        f"replay.mode={mode}",
    )
    GRPOTrainer(config).fit()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row for row in rows if "groups/effective_frac" in row]


def _window_mean(rows: list[dict[str, float]], key: str) -> float:
    """The mean of `key` over the rows of one window."""
    return sum(row[key] for row in rows) / len(rows)


def _assert_policy_saturates(rows: list[dict[str, float]]) -> None:
    """The policy learns the answer; the share of groups with a non-zero advantage falls from its peak by the margin."""
    first, last = rows[:WINDOW], rows[-WINDOW:]
    assert len(rows) == STEPS
    assert _window_mean(last, "acc/mean") >= LEARNED_ACCURACY
    assert _window_mean(last, "acc/mean") - _window_mean(first, "acc/mean") >= ACCURACY_RISE_MARGIN
    peak = max(_window_mean(rows[i : i + WINDOW], "groups/effective_frac") for i in range(len(rows) - WINDOW + 1))
    fall = peak - _window_mean(last, "groups/effective_frac")
    assert fall >= GROUPS_FALL_MARGIN, f"groups/effective_frac fell by only {fall:.2f}"


def test_ssr_keeps_every_update_batch_effective_as_groups_saturate(tmp_path: Path, tiny_config) -> None:
    rows = _step_rows(tiny_config, tmp_path, "ssr")
    _assert_policy_saturates(rows)
    first_signal = next(i for i, row in enumerate(rows) if row["groups/effective_frac"] > 0)
    replaying = rows[first_signal:]
    assert len(replaying) >= STEPS // 2, "the start answers the fixed answer rarely, but soon"
    assert all(row["batch/effective_frac"] == 1.0 for row in replaying)
    assert all(row["batch/size"] == QUERIES * GROUP_SIZE for row in replaying)
    assert all(row["batch/replay_frac"] > 0.0 for row in rows[-WINDOW:])
    assert all(row["batch/replay_frac"] == pytest.approx(1.0 - row["groups/effective_frac"]) for row in replaying)
    assert max(row["replay/buffer_size"] for row in rows) > 0


def test_none_trains_on_zero_advantage_samples_as_groups_saturate(tmp_path: Path, tiny_config) -> None:
    rows = _step_rows(tiny_config, tmp_path, "none")
    _assert_policy_saturates(rows)
    assert all(row["batch/replay_frac"] == 0.0 and row["batch/size"] == QUERIES * GROUP_SIZE for row in rows)
    assert all(row["batch/effective_frac"] == pytest.approx(row["groups/effective_frac"]) for row in rows)
    assert all(row["batch/effective_frac"] < 1.0 for row in rows[-WINDOW:])
