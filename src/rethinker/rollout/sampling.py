"""Choosing the next token from logits: temperature, top-k, top-p, blocked ids, and the sampled token's log-prob."""

from __future__ import annotations

import torch

from rethinker.rollout.base import SamplingParams


def filter_top_k_top_p(scores: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Scores with everything outside the top-k and outside the smallest top-p nucleus set to -inf."""
    if 0 < top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True, dim=-1)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        outside = cumulative - ordered.softmax(dim=-1) >= top_p
        scores = scores.masked_fill(outside.scatter(-1, order, outside), -float("inf"))
    return scores


def exponential_like(tensor: torch.Tensor) -> torch.Tensor:
    """Independent Exponential(1) draws shaped like `tensor`, never exactly zero.

    Inverts uniform draws (-log(1 - U)), several times cheaper on CPU than `Tensor.exponential_`; the floor at the
    smallest normal float keeps `p / noise` finite, so a zero-probability token never wins through 0 / 0.
    """
    uniform = torch.rand_like(tensor)
    return uniform.neg_().log1p_().neg_().clamp_min_(torch.finfo(tensor.dtype).tiny)


def sample_next(
    logits: torch.Tensor, params: SamplingParams, blocked: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens [batch] and their log-probabilities under log_softmax(logits / temperature), before any filtering.

    Blocked ids can never be chosen; temperature 0 is greedy. Sampling divides the probabilities by exponential noise
    and takes the argmax, which draws from exactly the categorical distribution at a fraction of `torch.multinomial`'s
    cost on CPU. The recorded log-probability is the one the trainer
    recomputes from the same logits, so importance ratios start at exactly 1.
    """
    logits = logits.float()
    temperature = params.temperature if params.temperature > 0 else 1.0
    scores = logits / temperature if temperature != 1.0 else logits
    logprobs = torch.log_softmax(scores, dim=-1)
    allowed = scores if blocked is None else scores.masked_fill(blocked, -float("inf"))
    if params.temperature > 0:
        filtered = filter_top_k_top_p(allowed, params.top_k, params.top_p)
        tokens = (filtered.softmax(dim=-1) / exponential_like(filtered)).argmax(dim=-1)
    else:
        tokens = allowed.argmax(dim=-1)
    return tokens, logprobs.gather(1, tokens[:, None]).squeeze(1)
