"""Token-mean negative log-likelihood and the imitation (SFT) loss on accepted forced rethinks (SPEC section 4)."""

from __future__ import annotations

import torch
from torch import Tensor

IMITATION_COEF = 0.05
"""Weight of the imitation loss added to the policy loss (released VL-Rethinker code)."""


def token_mean_nll(logp: Tensor, mask: Tensor, sample_weight: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood over the masked tokens of the selected samples.

    `logp` and `mask` are [batch, seq] (token log-probabilities and which tokens count); `sample_weight` [batch]
    selects samples with 0/1 (any non-negative weights give a weighted token mean). When no token is selected the
    result is 0 with a valid graph (zero gradient), never NaN, even where unselected log-probs are -inf.
    """
    if logp.dim() != 2 or logp.shape != mask.shape:
        raise ValueError(f"logp and mask must both be [batch, seq], got {tuple(logp.shape)} and {tuple(mask.shape)}")
    weights = mask.to(torch.float32)
    if sample_weight is not None:
        if sample_weight.shape != logp.shape[:1]:
            raise ValueError(f"sample_weight must be [batch]={logp.shape[0]}, got {tuple(sample_weight.shape)}")
        weights = weights * sample_weight.to(torch.float32).unsqueeze(1)
    selected_logp = torch.where(weights > 0, logp.to(torch.float32), torch.zeros_like(weights))
    total = weights.sum()
    return -(selected_logp * weights).sum() / total.clamp_min(torch.finfo(torch.float32).tiny)


def imitation_loss(
    logp: Tensor, mask: Tensor, is_accepted_rethink: Tensor, advantages: Tensor, coef: float = IMITATION_COEF
) -> tuple[Tensor, float]:
    """`coef` times the token-mean NLL over accepted rethinks with positive advantage; returns (loss, loss/sft value).

    `is_accepted_rethink` and `advantages` are per sample, [batch]. The mean is over the tokens of this call's
    selected samples.
    """
    if is_accepted_rethink.shape != logp.shape[:1] or advantages.shape != logp.shape[:1]:
        raise ValueError(
            f"is_accepted_rethink and advantages must be [batch]={logp.shape[0]}, "
            f"got {tuple(is_accepted_rethink.shape)} and {tuple(advantages.shape)}"
        )
    selected = is_accepted_rethink.to(torch.bool) & (advantages > 0)
    loss = coef * token_mean_nll(logp, mask, selected.to(torch.float32))
    return loss, loss.item()
