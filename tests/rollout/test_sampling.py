"""Next-token choice: exact categorical draws, top-k / top-p, blocked ids, and the recorded log-probability."""

from __future__ import annotations

import torch

from rethinker.rollout.base import SamplingParams
from rethinker.rollout.sampling import exponential_like, filter_top_k_top_p, sample_next


def test_draws_follow_the_softmax_within_tolerance() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(40_000, 1)
    torch.manual_seed(0)
    tokens, _ = sample_next(logits, SamplingParams(max_new_tokens=1, temperature=1.0), None)
    frequencies = torch.bincount(tokens, minlength=4).float() / tokens.numel()
    expected = logits[0].softmax(-1)
    assert torch.allclose(frequencies, expected, atol=0.01), frequencies


def test_temperature_sharpens_draws_and_log_probs_use_it() -> None:
    logits = torch.tensor([[1.0, 0.0, -1.0]]).repeat(20_000, 1)
    params = SamplingParams(max_new_tokens=1, temperature=0.5)
    torch.manual_seed(1)
    tokens, logprobs = sample_next(logits, params, None)
    expected = (logits[0] / 0.5).softmax(-1)
    assert torch.allclose(torch.bincount(tokens, minlength=3).float() / tokens.numel(), expected, atol=0.01)
    assert torch.allclose(logprobs, torch.log(expected)[tokens], atol=1e-6)


def test_blocked_ids_are_never_drawn_but_log_probs_are_unfiltered() -> None:
    logits = torch.tensor([[5.0, 0.0, 0.0]]).repeat(2_000, 1)
    blocked = torch.tensor([True, False, False])
    torch.manual_seed(2)
    tokens, logprobs = sample_next(logits, SamplingParams(max_new_tokens=1), blocked)
    assert 0 not in tokens.tolist()
    assert torch.allclose(logprobs, torch.log_softmax(logits[0], -1)[tokens])
    greedy, _ = sample_next(logits[:1], SamplingParams(max_new_tokens=1, temperature=0.0), blocked)
    assert greedy.tolist() == [1]


def test_greedy_takes_the_argmax() -> None:
    logits = torch.tensor([[0.1, 3.0, 2.9], [4.0, -1.0, 0.0]])
    tokens, logprobs = sample_next(logits, SamplingParams(max_new_tokens=1, temperature=0.0), None)
    assert tokens.tolist() == [1, 0]
    assert torch.allclose(logprobs, torch.log_softmax(logits, -1).gather(1, tokens[:, None]).squeeze(1))


def test_top_k_keeps_the_k_best() -> None:
    scores = torch.tensor([[0.5, 3.0, 1.0, 2.0]])
    kept = filter_top_k_top_p(scores, top_k=2, top_p=1.0)
    assert torch.isfinite(kept).tolist() == [[False, True, False, True]]


def test_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    scores = probs.log()
    assert torch.isfinite(filter_top_k_top_p(scores, 0, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_top_k_top_p(scores, 0, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(filter_top_k_top_p(scores, 0, 0.81)).tolist() == [[True, True, True, False]]
    shuffled = scores[:, [2, 0, 3, 1]]
    assert torch.isfinite(filter_top_k_top_p(shuffled, 0, 0.7)).tolist() == [[False, True, False, True]]


def test_exponential_noise_has_unit_mean_and_the_exponential_tail() -> None:
    torch.manual_seed(3)
    noise = exponential_like(torch.empty(200_000))
    assert bool((noise > 0).all())
    assert abs(float(noise.mean()) - 1.0) < 0.01
    assert abs(float((noise > 2.0).float().mean()) - float(torch.exp(torch.tensor(-2.0)))) < 0.005


def test_zero_noise_never_lets_a_zero_probability_token_win(monkeypatch) -> None:
    monkeypatch.setattr(torch, "rand_like", torch.zeros_like)
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    tokens, _ = sample_next(logits, SamplingParams(max_new_tokens=1, top_k=1), torch.tensor([False, False, False]))
    assert tokens.tolist() == [2]
