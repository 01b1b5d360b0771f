"""Loss aggregations against hand values, PPO clipping in all four sign/side cases, and vanishing gradients."""

import math

import pytest
import torch

from rethinker.algo.advantages import group_advantages
from rethinker.algo.losses import aggregate, policy_loss

VALUES = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 100.0, 100.0, 100.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)


def test_token_mean_divides_by_all_response_tokens() -> None:
    assert aggregate(VALUES, MASK, "token-mean").item() == pytest.approx((1 + 2 + 3 + 4) / 4)


def test_seq_mean_token_mean_averages_sequence_means() -> None:
    assert aggregate(VALUES, MASK.float(), "seq-mean-token-mean").item() == pytest.approx((2.0 + 4.0) / 2)


def test_seq_mean_token_sum_norm_divides_by_constant() -> None:
    assert aggregate(VALUES, MASK, "seq-mean-token-sum-norm", norm_len=4).item() == pytest.approx((6 / 4 + 4 / 4) / 2)


def test_empty_row_counts_as_zero_sequence() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0]])
    assert aggregate(VALUES, mask, "seq-mean-token-mean").item() == pytest.approx(1.0)
    assert aggregate(VALUES, torch.zeros_like(mask), "token-mean").item() == 0.0


def test_aggregate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="norm_len"):
        aggregate(VALUES, MASK, "seq-mean-token-sum-norm")
    with pytest.raises(ValueError, match="unknown"):
        aggregate(VALUES, MASK, "sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch, seq"):
        aggregate(VALUES[0], MASK[0], "token-mean")


def test_clipping_follows_ppo_for_each_sign_and_side() -> None:
    ratios = torch.tensor([[1.5], [0.5], [0.5], [1.5]])
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0])
    logp = ratios.log().requires_grad_(True)
    loss, stats = policy_loss(logp, torch.zeros(4, 1), advantages, torch.ones(4, 1), 0.2, 0.3, "token-mean")
    # A>0, rho above 1+eps_high: -1.3 (clipped); A>0, rho low: -0.5 (unclipped);
    # A<0, rho below 1-eps_low: +0.8 (clipped); A<0, rho high: +1.5 (unclipped)
    assert loss.item() == pytest.approx((-1.3 - 0.5 + 0.8 + 1.5) / 4)
    loss.backward()
    assert logp.grad is not None
    torch.testing.assert_close(logp.grad, torch.tensor([[0.0], [-0.5 / 4], [0.0], [1.5 / 4]]))
    assert stats["clip_frac"] == pytest.approx(0.5)
    assert stats["ratio_mean"] == pytest.approx(1.0)


def test_ratio_inside_clip_range_is_plain_policy_gradient() -> None:
    logp = torch.tensor([[math.log(1.1), math.log(0.9)]], requires_grad=True)
    loss, stats = policy_loss(logp, torch.zeros(1, 2), torch.tensor([2.0]), torch.ones(1, 2), 0.2, 0.2, "token-mean")
    assert loss.item() == pytest.approx(-(1.1 + 0.9) * 2 / 2)
    assert stats["clip_frac"] == 0.0
    loss.backward()
    assert logp.grad is not None
    torch.testing.assert_close(logp.grad, torch.tensor([[-1.1, -0.9]]))


def test_equal_reward_group_gets_zero_gradient() -> None:
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    advantages = group_advantages(rewards, 4, "std")
    generator = torch.Generator().manual_seed(0)
    logp = (-torch.rand(8, 5, generator=generator)).requires_grad_(True)
    old_logp = -torch.rand(8, 5, generator=generator)
    for mode in ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]:
        logp.grad = None
        loss, _ = policy_loss(logp, old_logp, advantages, torch.ones(8, 5), 0.2, 0.35, mode, norm_len=5)  # type: ignore[arg-type]
        loss.backward()
        assert logp.grad is not None
        assert torch.all(logp.grad[:4] == 0.0)
        assert torch.any(logp.grad[4:] != 0.0)


def test_masked_tokens_get_no_gradient_and_huge_gaps_stay_finite() -> None:
    logp = torch.tensor([[0.0, -500.0]], requires_grad=True)
    old_logp = torch.tensor([[-500.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0]])
    loss, stats = policy_loss(logp, old_logp, torch.tensor([-1.0]), mask, 0.2, 0.2, "token-mean")
    assert math.isfinite(loss.item())
    assert math.isfinite(stats["ratio_mean"])
    loss.backward()
    assert logp.grad is not None
    assert logp.grad[0, 1] == 0.0


def test_policy_loss_checks_advantage_shape() -> None:
    with pytest.raises(ValueError, match="advantages"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3), 0.2, 0.2, "token-mean")
