"""Group advantages for each normalisation, the vanishing-advantage case, and group telemetry."""

import math

import pytest
import torch

from rethinker.algo.advantages import group_advantages, group_stats


def test_std_norm_uses_unbiased_group_std() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    # group 1: mean 0.25, unbiased std 0.5; group 2: mean 0.5, unbiased std sqrt(1/3)
    half_sqrt3 = math.sqrt(3) / 2
    expected = torch.tensor([1.5, -0.5, -0.5, -0.5, half_sqrt3, half_sqrt3, -half_sqrt3, -half_sqrt3])
    torch.testing.assert_close(group_advantages(rewards, 4, "std", eps=0.0), expected)


def test_std_norm_eps_enters_the_denominator() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(group_advantages(rewards, 4, "std", eps=0.5)[0], torch.tensor(0.75))


def test_mean_norm_only_centres() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.1, 1.0, -0.1, 0.0])
    expected = torch.tensor([0.75, -0.25, -0.25, -0.25, 0.6, 0.5, -0.6, -0.5])
    torch.testing.assert_close(group_advantages(rewards, 4, "mean"), expected)


def test_none_norm_returns_rewards() -> None:
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0])
    advantages = group_advantages(rewards, 2, "none")
    torch.testing.assert_close(advantages, rewards)
    advantages[0] = 5.0
    assert rewards[0] == 1.0


@pytest.mark.parametrize("norm", ["std", "mean"])
def test_equal_rewards_give_exactly_zero(norm: str) -> None:
    rewards = torch.tensor([0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.7, 0.1, 0.1])
    advantages = group_advantages(rewards, 3, norm)
    assert torch.all(advantages[:9] == 0.0)
    assert torch.all(advantages[9:] != 0.0)


def test_integer_rewards_and_group_of_one() -> None:
    assert torch.all(group_advantages(torch.tensor([1, 0, 1]), 1, "std") == 0.0)
    torch.testing.assert_close(group_advantages(torch.tensor([1, 0]), 2, "mean"), torch.tensor([0.5, -0.5]))


def test_bad_shapes_and_norm_are_rejected() -> None:
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(torch.zeros(4), 3, "std")
    with pytest.raises(ValueError, match="flat"):
        group_advantages(torch.zeros(2, 2), 2, "std")
    with pytest.raises(ValueError, match="unknown"):
        group_advantages(torch.zeros(4), 2, "rank")  # type: ignore[arg-type]


def _correct_group(num_correct: int, size: int = 8) -> list[bool]:
    return [True] * num_correct + [False] * (size - num_correct)


def test_group_stats_buckets_and_fractions() -> None:
    correct_counts = [0, 2, 4, 7, 8]
    correct = torch.tensor([c for n in correct_counts for c in _correct_group(n)])
    stats = group_stats(correct.float(), correct, 8)
    for bucket in ["all_false", "hard", "medium", "easy", "all_true"]:
        assert stats[f"groups/bucket_{bucket}"] == pytest.approx(0.2)
    assert stats["groups/effective_frac"] == pytest.approx(0.6)
    assert stats["groups/all_correct_frac"] == pytest.approx(0.2)
    assert stats["groups/all_wrong_frac"] == pytest.approx(0.2)


def test_group_stats_bucket_boundaries() -> None:
    correct = torch.tensor(_correct_group(1) + _correct_group(3) + _correct_group(6) + _correct_group(6))
    stats = group_stats(correct.float(), correct, 8)
    assert stats["groups/bucket_hard"] == pytest.approx(0.25)
    assert stats["groups/bucket_medium"] == pytest.approx(0.25)
    assert stats["groups/bucket_easy"] == pytest.approx(0.5)
    assert stats["groups/bucket_all_false"] == 0.0


def test_group_stats_effective_follows_shaped_rewards_not_correctness() -> None:
    correct = torch.tensor([True, True, False, False])
    rewards = torch.tensor([1.1, 1.0, -0.1, -0.1])
    stats = group_stats(rewards, correct, 2)
    assert stats["groups/effective_frac"] == pytest.approx(0.5)
    assert stats["groups/all_correct_frac"] == pytest.approx(0.5)
    assert stats["groups/all_wrong_frac"] == pytest.approx(0.5)
