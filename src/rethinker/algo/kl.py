"""Per-token estimators of KL(pi_theta || pi_ref) from log-probs of tokens sampled by the policy."""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
from torch import Tensor

KLKind: TypeAlias = Literal["k1", "k3"]

MAX_KL_LOG_RATIO = 10.0
"""k3 exponentiates log(pi_ref / pi_theta); clamping it to [-10, 10] keeps exp finite and the gradient bounded."""


def kl_estimate(logp: Tensor, ref_logp: Tensor, kind: KLKind) -> Tensor:
    """Per-token KL estimate: `k1` = logp - ref_logp (can be negative); `k3` = e^x - x - 1 with x = ref_logp - logp.

    k3 is the low-variance non-negative estimator (Vision-R1, beta 1e-2). Its log-ratio x is clamped to
    [-MAX_KL_LOG_RATIO, MAX_KL_LOG_RATIO] for numerical stability; it is computed as expm1(x) - x and floored at 0 so
    rounding never yields a negative value. Both are exactly 0 for identical inputs.
    """
    if logp.shape != ref_logp.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and ref_logp {tuple(ref_logp.shape)} differ in shape")
    if kind == "k1":
        return logp - ref_logp
    if kind == "k3":
        log_ratio = (ref_logp - logp).clamp(-MAX_KL_LOG_RATIO, MAX_KL_LOG_RATIO)
        return (torch.expm1(log_ratio) - log_ratio).clamp_min(0.0)
    raise ValueError(f"unknown KL estimator {kind!r}; expected 'k1' or 'k3'")
