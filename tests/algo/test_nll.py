"""Tests for the token-mean NLL and the imitation loss on accepted rethinks: values and gradients by hand."""

import math

import pytest
import torch

from rethinker.algo.nll import imitation_loss, token_mean_nll

LOGP = torch.tensor(
    [
        [math.log(0.5), math.log(0.25), 0.0],
        [math.log(0.1), math.log(0.2), math.log(0.4)],
        [-1.0, -2.0, -3.0],
    ]
)
MASK = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0]])


def test_token_mean_over_every_masked_token() -> None:
    expected = -(math.log(0.5) + math.log(0.25) + math.log(0.1) + math.log(0.2) + math.log(0.4) - 1.0) / 6
    assert token_mean_nll(LOGP, MASK).item() == pytest.approx(expected)


def test_sample_weight_selects_samples_and_gradient_is_minus_one_over_tokens() -> None:
    logp = LOGP.clone().requires_grad_(True)
    loss = token_mean_nll(logp, MASK, torch.tensor([1.0, 0.0, 1.0]))
    assert loss.item() == pytest.approx(-(math.log(0.5) + math.log(0.25) - 1.0) / 3)
    loss.backward()
    expected_grad = torch.tensor([[-1 / 3, -1 / 3, 0.0], [0.0, 0.0, 0.0], [-1 / 3, 0.0, 0.0]])
    assert torch.allclose(logp.grad, expected_grad)


def test_nothing_selected_gives_zero_with_a_graph_even_over_minus_inf() -> None:
    logp = torch.full((2, 3), float("-inf")).requires_grad_(True)
    loss = token_mean_nll(logp, torch.ones(2, 3), torch.zeros(2))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logp.grad, torch.zeros(2, 3))


def test_shape_mismatches_are_errors() -> None:
    with pytest.raises(ValueError):
        token_mean_nll(LOGP, MASK[:, :2])
    with pytest.raises(ValueError):
        token_mean_nll(LOGP, MASK, torch.ones(2))


def test_imitation_loss_uses_only_accepted_rethinks_with_positive_advantage() -> None:
    logp = LOGP.clone().requires_grad_(True)
    accepted = torch.tensor([True, True, False])
    advantages = torch.tensor([0.8, -0.3, 1.0])
    loss, value = imitation_loss(logp, MASK, accepted, advantages, coef=0.05)
    nll_first = -(math.log(0.5) + math.log(0.25)) / 2
    assert value == pytest.approx(0.05 * nll_first)
    assert loss.item() == pytest.approx(value)
    loss.backward()
    expected_grad = torch.tensor([[-0.025, -0.025, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(logp.grad, expected_grad)


def test_imitation_loss_is_zero_when_no_rethink_was_accepted() -> None:
    logp = LOGP.clone().requires_grad_(True)
    loss, value = imitation_loss(logp, MASK, torch.zeros(3, dtype=torch.bool), torch.ones(3))
    assert value == 0.0
    loss.backward()
    assert torch.equal(logp.grad, torch.zeros_like(LOGP))


def test_imitation_loss_accepts_bf16_log_probs() -> None:
    logp = LOGP.to(torch.bfloat16)
    loss, value = imitation_loss(logp, MASK, torch.ones(3, dtype=torch.bool), torch.ones(3), coef=1.0)
    assert loss.dtype == torch.float32
    assert value == pytest.approx(token_mean_nll(LOGP, MASK).item(), rel=1e-2)
