"""Group-relative advantages (GRPO) and per-step group telemetry.

Rewards arrive as one flat tensor ordered group by group: the `group_size` responses of query 0, then of query 1, ...
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
from torch import Tensor

AdvantageNorm: TypeAlias = Literal["std", "mean", "none"]

DIFFICULTY_BUCKETS: tuple[tuple[str, float], ...] = (
    ("all_false", 1 / 8),
    ("hard", 3 / 8),
    ("medium", 6 / 8),
    ("easy", 1.0),
)
"""Upper bounds (exclusive) on group accuracy for each bucket; accuracy exactly 1 is `all_true`."""


def as_groups(values: Tensor, group_size: int) -> Tensor:
    """View a flat tensor as [num_groups, group_size], checking that it divides evenly."""
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if values.ndim != 1:
        raise ValueError(f"expected a flat tensor ordered group by group, got shape {tuple(values.shape)}")
    if values.numel() % group_size != 0:
        raise ValueError(f"{values.numel()} values do not split into groups of {group_size}")
    return values.reshape(-1, group_size)


def group_advantages(rewards: Tensor, group_size: int, norm: AdvantageNorm, eps: float = 1e-6) -> Tensor:
    """Advantage of every response relative to its group: `std`, `mean` or `none` normalisation.

    `std` (the paper): (r - mean) / (std + eps) with the unbiased sample std (Bessel's correction, divisor G - 1), as in
    the released code and most GRPO implementations. `mean` (the released code): r - mean. `none`: r unchanged.
    A group whose rewards are all equal gets exactly 0 for every member under `std` and `mean` (no rounding residue).
    """
    groups = as_groups(rewards, group_size)
    groups = groups if groups.is_floating_point() else groups.to(torch.float32)
    if norm == "none":
        return groups.reshape(-1).clone()
    centered = groups - groups.mean(dim=1, keepdim=True)
    if norm == "std":
        unbiased_var = centered.pow(2).sum(dim=1, keepdim=True) / max(group_size - 1, 1)
        centered = centered / (unbiased_var.sqrt() + eps)
    elif norm != "mean":
        raise ValueError(f"unknown advantage norm {norm!r}; expected 'std', 'mean' or 'none'")
    constant = (groups == groups[:, :1]).all(dim=1, keepdim=True)
    return torch.where(constant, torch.zeros_like(centered), centered).reshape(-1)


def group_stats(rewards: Tensor, correct: Tensor, group_size: int) -> dict[str, float]:
    """Fractions of groups that are effective / all correct / all wrong, and the difficulty buckets by accuracy.

    `correct` (bool, same order as `rewards`) says which responses are right; rewards may be shaped, so a group is
    effective when its rewards are not all equal (its advantages are non-zero), independently of correctness.
    """
    reward_groups = as_groups(rewards, group_size)
    accuracy = as_groups(correct, group_size).to(torch.float64).mean(dim=1)
    if accuracy.numel() == 0:
        raise ValueError("group_stats needs at least one group")
    effective = ~(reward_groups == reward_groups[:, :1]).all(dim=1)
    stats = {
        "groups/effective_frac": effective.double().mean().item(),
        "groups/all_correct_frac": (accuracy == 1.0).double().mean().item(),
        "groups/all_wrong_frac": (accuracy == 0.0).double().mean().item(),
    }
    lower = 0.0
    for name, upper in DIFFICULTY_BUCKETS:
        in_bucket = (accuracy >= lower) & (accuracy < upper)
        stats[f"groups/bucket_{name}"] = in_bucket.double().mean().item()
        lower = upper
    stats["groups/bucket_all_true"] = (accuracy == 1.0).double().mean().item()
    return stats
