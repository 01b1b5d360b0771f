"""KL estimators: exact zeros, non-negativity, hand values and agreement with the true KL."""

import math

import pytest
import torch

from rethinker.algo.kl import MAX_KL_LOG_RATIO, kl_estimate


@pytest.mark.parametrize("kind", ["k1", "k3"])
def test_identical_inputs_give_zero(kind: str) -> None:
    logp = torch.log(torch.rand(4, 7, generator=torch.Generator().manual_seed(0)))
    assert torch.all(kl_estimate(logp, logp.clone(), kind) == 0.0)


def test_hand_values() -> None:
    logp = torch.tensor([math.log(0.5)])
    ref_logp = torch.tensor([math.log(0.25)])
    torch.testing.assert_close(kl_estimate(logp, ref_logp, "k1"), torch.tensor([math.log(2.0)]))
    torch.testing.assert_close(kl_estimate(logp, ref_logp, "k3"), torch.tensor([0.5 + math.log(2.0) - 1.0]))


def test_k3_is_non_negative_and_finite_even_for_extreme_gaps() -> None:
    generator = torch.Generator().manual_seed(1)
    logp = torch.randn(1000, generator=generator) * 30
    ref_logp = torch.randn(1000, generator=generator) * 30
    tiny = torch.full((10,), -1e-7)
    values = torch.cat([kl_estimate(logp, ref_logp, "k3"), kl_estimate(tiny, torch.zeros(10), "k3")])
    assert torch.all(values >= 0.0)
    assert torch.all(torch.isfinite(values))
    clamped = kl_estimate(torch.tensor([-100.0]), torch.tensor([0.0]), "k3")
    torch.testing.assert_close(clamped, torch.tensor([math.exp(MAX_KL_LOG_RATIO) - MAX_KL_LOG_RATIO - 1]))


def test_k3_gradient_pulls_policy_towards_reference() -> None:
    logp = torch.tensor([math.log(0.5)], requires_grad=True)
    kl_estimate(logp, torch.tensor([math.log(0.25)]), "k3").sum().backward()
    assert logp.grad is not None
    torch.testing.assert_close(logp.grad, torch.tensor([1.0 - 0.5]))


@pytest.mark.parametrize("kind", ["k1", "k3"])
def test_sample_mean_estimates_the_true_kl(kind: str) -> None:
    policy = torch.tensor([0.5, 0.3, 0.15, 0.05])
    reference = torch.tensor([0.25, 0.25, 0.25, 0.25])
    true_kl = (policy * (policy / reference).log()).sum()
    tokens = torch.multinomial(policy, 200_000, replacement=True, generator=torch.Generator().manual_seed(2))
    estimate = kl_estimate(policy.log()[tokens], reference.log()[tokens], kind).mean()
    assert estimate.item() == pytest.approx(true_kl.item(), abs=0.01)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown"):
        kl_estimate(torch.zeros(2), torch.zeros(2), "k2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        kl_estimate(torch.zeros(2), torch.zeros(3), "k1")
