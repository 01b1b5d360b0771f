"""PPO clipped surrogate for GRPO and the three ways of reducing per-token values to one loss."""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
from torch import Tensor

Aggregation: TypeAlias = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]

MAX_LOG_RATIO = 20.0
"""|log rho| is clamped here so a stale replayed sample cannot overflow exp; tokens past it get no gradient."""


def aggregate(values: Tensor, mask: Tensor, mode: Aggregation, norm_len: float | None = None) -> Tensor:
    """Reduce [batch, seq] per-token values over the response `mask` to a scalar.

    `token-mean`: sum over all response tokens of the batch / their number (released code, DAPO).
    `seq-mean-token-mean`: mean over each sequence's tokens, then mean over sequences (original GRPO).
    `seq-mean-token-sum-norm`: each sequence's token sum / the constant `norm_len`, then mean over sequences (Dr. GRPO).
    Sequence means run over every row of the batch; a row without response tokens contributes 0.
    """
    if values.shape != mask.shape or values.ndim != 2:
        raise ValueError(f"values {tuple(values.shape)} and mask {tuple(mask.shape)} must both be [batch, seq]")
    weights = mask.to(values.dtype)
    masked = values * weights
    if mode == "token-mean":
        return masked.sum() / weights.sum().clamp_min(1.0)
    if mode == "seq-mean-token-mean":
        return (masked.sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)).mean()
    if mode == "seq-mean-token-sum-norm":
        if norm_len is None or norm_len <= 0:
            raise ValueError(f"seq-mean-token-sum-norm needs a positive norm_len, got {norm_len}")
        return (masked.sum(dim=1) / norm_len).mean()
    raise ValueError(f"unknown aggregation {mode!r}")


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    eps_low: float,
    eps_high: float,
    mode: Aggregation,
    norm_len: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Clipped surrogate -min(rho*A, clip(rho, 1-eps_low, 1+eps_high)*A) per token, aggregated by `mode`.

    `logp`, `old_logp` and `mask` are [batch, seq]; `advantages` is [batch] (constant over a response's tokens).
    Stats over response tokens: `clip_frac`, the fraction where the clipped term is the one taken and differs from the
    unclipped one (those tokens get no gradient), and `ratio_mean`, the mean of rho.
    """
    if advantages.shape != logp.shape[:1]:
        raise ValueError(f"advantages {tuple(advantages.shape)} must be [batch] for logp {tuple(logp.shape)}")
    log_ratio = (logp - old_logp).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    ratio = torch.exp(log_ratio)
    adv = advantages.to(ratio.dtype).unsqueeze(-1)
    unclipped = ratio * adv
    clipped = ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * adv
    loss = aggregate(-torch.minimum(unclipped, clipped), mask, mode, norm_len)
    with torch.no_grad():
        stats = {
            "clip_frac": aggregate((clipped < unclipped).to(ratio.dtype), mask, "token-mean").item(),
            "ratio_mean": aggregate(ratio, mask, "token-mean").item(),
        }
    return loss, stats
