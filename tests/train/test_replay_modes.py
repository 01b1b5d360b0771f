"""Tests for the replay-mode registry: every configurable mode has exactly one strategy, chosen by its name."""

from typing import get_args

import pytest
import torch

from rethinker.config import ReplayConfig
from rethinker.train.replay_modes import REPLAY_MODES, build_replay_mode
from rethinker.train.samples import Sample


def test_the_registry_holds_exactly_the_modes_the_config_accepts() -> None:
    assert set(REPLAY_MODES) == set(get_args(ReplayConfig.model_fields["mode"].annotation))


@pytest.mark.parametrize("mode", sorted(REPLAY_MODES))
def test_each_name_builds_its_own_strategy(mode: str) -> None:
    strategy = build_replay_mode(ReplayConfig(mode=mode), batch_size=4, seed=0)
    assert strategy.name == mode
    assert (strategy.buffer is not None) == (mode == "ssr")


def _round(rewards: list[float]) -> list[Sample]:
    """One rollout round: a sample per reward, in groups as the list is cut."""
    one = torch.tensor([1])
    return [Sample(0, 0, one, one, torch.zeros(1), "", r, r > 0, True, born_step=0) for r in rewards]


def test_dapo_rolls_out_more_rounds_until_enough_groups_differ_and_other_modes_roll_out_once() -> None:
    rounds = [[0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]]
    calls: list[int] = []

    def experience(round_index: int) -> tuple[list[Sample], dict[str, float]]:
        calls.append(round_index)
        return _round(rounds[round_index]), {"round": float(round_index)}

    dapo = build_replay_mode(ReplayConfig(mode="dapo", dapo_max_rounds=4), batch_size=0, seed=0)
    samples, metrics = dapo.collect(experience, queries=2, group_size=2)
    assert calls == [0, 1]
    assert [s.reward for s in samples] == [1.0, 0.0, 0.0, 1.0]
    assert metrics == {"round": 0.0, "dapo/rounds": 2.0, "dapo/filled": 1.0}
    calls.clear()
    samples, _ = build_replay_mode(ReplayConfig(mode="ssr"), batch_size=0, seed=0).collect(experience, 2, 2)
    assert calls == [0] and len(samples) == 4
