"""Which samples an update trains on: Selective Sample Replay (SSR), its released-code variant, filter, DAPO sampling.

Samples are opaque items of any type `T`; these functions see only their advantages (one float per sample). Every random
draw goes through a caller's `torch.Generator`, so a selection is reproducible from its seed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import torch
from torch import Tensor

from rethinker.algo.advantages import as_groups

T = TypeVar("T")
Advantages: TypeAlias = Sequence[float] | Tensor
BufferLifetime: TypeAlias = Literal["episode", "persistent"]

RELEASED_OFFSET = 1e-4
"""The released code draws current candidates and FIFO samples with weights |A| + 1e-4."""


def _as_float_vector(advantages: Advantages) -> Tensor:
    """Advantages as a flat float64 CPU tensor, refusing NaN or infinity."""
    values = torch.as_tensor(advantages, dtype=torch.float64).detach().cpu().reshape(-1)
    if not torch.isfinite(values).all():
        raise ValueError("advantages must be finite")
    return values


def effective_indices(advantages: Advantages, eps: float = 0.0) -> list[int]:
    """Indices of the samples with |A| > eps: the only ones that carry a policy gradient."""
    return torch.nonzero(_as_float_vector(advantages).abs() > eps).reshape(-1).tolist()


def priorities(advantages: Advantages, alpha: float, offset: float = 0.0) -> Tensor:
    """Draw weights |A|^alpha + offset; |A| = 0 weighs just `offset`, so alpha = 0 is uniform over |A| > 0."""
    if alpha < 0 or offset < 0:
        raise ValueError(f"alpha and offset must be >= 0, got alpha={alpha}, offset={offset}")
    magnitude = _as_float_vector(advantages).abs()
    return torch.where(magnitude > 0, magnitude.pow(alpha), torch.zeros_like(magnitude)) + offset


def _weighted_draw(weights: Tensor, n: int, generator: torch.Generator) -> list[int]:
    """n indices drawn with replacement, P(j) proportional to weights[j]."""
    if n == 0:
        return []
    if weights.numel() == 0 or weights.sum() <= 0:
        raise ValueError("cannot draw: no candidate has a positive weight")
    return torch.multinomial(weights, n, replacement=True, generator=generator).tolist()


class ReplayBuffer(Generic[T]):
    """Past effective samples with their advantage and the step they were added, drawn by priority |A|^alpha.

    `episode` lifetime empties at `end_episode()` (the paper: cleared when the rollout policy is re-synchronised);
    `persistent` keeps samples across episodes. With a `capacity`, the oldest samples are dropped first (FIFO).
    """

    def __init__(self, lifetime: BufferLifetime = "episode", capacity: int | None = None) -> None:
        if lifetime not in ("episode", "persistent"):
            raise ValueError(f"unknown buffer lifetime {lifetime!r}; expected 'episode' or 'persistent'")
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be None or >= 1, got {capacity}")
        self.lifetime: BufferLifetime = lifetime
        self.capacity = capacity
        self._entries: deque[tuple[T, float, int]] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, items: Sequence[T], advantages: Advantages, step: int) -> None:
        """Store items with their advantages, stamped with the step they were generated at."""
        values = _as_float_vector(advantages).tolist()
        if len(items) != len(values):
            raise ValueError(f"{len(items)} items but {len(values)} advantages")
        self._entries.extend((item, value, step) for item, value in zip(items, values, strict=True))

    def draw(self, n: int, alpha: float, generator: torch.Generator, offset: float = 0.0) -> list[tuple[T, int]]:
        """n (item, birth step) pairs drawn with replacement, P(j) proportional to |A_j|^alpha + offset."""
        if n < 0:
            raise ValueError(f"cannot draw {n} samples")
        weights = priorities([value for _, value, _ in self._entries], alpha, offset)
        picks = _weighted_draw(weights, n, generator)
        return [(self._entries[j][0], self._entries[j][2]) for j in picks]

    def entries(self) -> list[tuple[T, int]]:
        """Every (item, birth step) pair, oldest first."""
        return [(item, born) for item, _, born in self._entries]

    def end_episode(self) -> None:
        """Empty the buffer in `episode` lifetime; keep everything in `persistent` lifetime."""
        if self.lifetime == "episode":
            self._entries.clear()

    def state_dict(self) -> dict[str, list[Any]]:
        """The buffer's contents, oldest first; items are stored as given, so the caller keeps them serialisable."""
        return {
            "items": [item for item, _, _ in self._entries],
            "advantages": [value for _, value, _ in self._entries],
            "steps": [step for _, _, step in self._entries],
        }

    def load_state_dict(self, state: dict[str, list[Any]]) -> None:
        """Replace the contents with those of `state_dict()`; this buffer's own capacity still applies."""
        items, values, steps = state["items"], state["advantages"], state["steps"]
        if not len(items) == len(values) == len(steps):
            raise ValueError("replay state has items, advantages and steps of different lengths")
        self._entries.clear()
        self._entries.extend(zip(items, [float(v) for v in values], [int(s) for s in steps], strict=True))


@dataclass(frozen=True)
class Selection(Generic[T]):
    """What an update trains on: indices into the current raw batch, plus (item, birth step) pairs from the buffer."""

    current: list[int]
    replayed: list[tuple[T, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.current) + len(self.replayed)

    def stats(self, step: int) -> dict[str, float]:
        """Telemetry proving replay acts: batch size, replayed count and fraction, mean age (step - birth step)."""
        ages = [step - birth for _, birth in self.replayed]
        return {
            "replay/batch_size": float(len(self)),
            "replay/count": float(len(self.replayed)),
            "replay/frac": len(self.replayed) / len(self) if len(self) else 0.0,
            "replay/age_mean": sum(ages) / len(ages) if ages else 0.0,
        }


def select_filter(advantages: Advantages) -> Selection[Any]:
    """GRPO-Filter: keep the effective samples of the current batch, no refill."""
    return Selection(current=effective_indices(advantages))


def select_ssr(
    items: Sequence[T],
    advantages: Advantages,
    batch_size: int,
    buffer: ReplayBuffer[T],
    alpha: float,
    generator: torch.Generator,
    step: int,
) -> Selection[T]:
    """Selective Sample Replay, the paper's Algorithm 1 (the default).

    D_eff (|A| > 0) of the current batch is added to the buffer first, then n = max(0, batch_size - |D_eff|) samples
    are drawn from the buffer with P(j) = |A_j|^alpha / sum_k |A_k|^alpha, with replacement. As in the paper, the refill
    may therefore re-draw current effective samples (they show up in `replayed` with birth step == `step`, age 0).
    With an empty buffer the batch is just D_eff; a D_eff larger than `batch_size` is kept whole, never truncated.
    """
    values = _as_float_vector(advantages)
    if len(items) != len(values):
        raise ValueError("items and advantages must have the same length")
    effective = effective_indices(values)
    buffer.add([items[i] for i in effective], values[effective], step)
    missing = max(0, batch_size - len(effective))
    replayed = buffer.draw(missing, alpha, generator) if len(buffer) else []
    return Selection(current=effective, replayed=replayed)


def released_buffer(first_episode_size: int) -> ReplayBuffer[Any]:
    """The released code's persistent FIFO: capacity is half the number of rollouts of the first episode."""
    return ReplayBuffer(lifetime="persistent", capacity=max(1, first_episode_size // 2))


def select_ssr_released(
    items: Sequence[T],
    advantages: Advantages,
    correct: Sequence[bool] | Tensor,
    buffer: ReplayBuffer[T],
    generator: torch.Generator,
    step: int,
    all_correct_frac: float = 0.1,
) -> Selection[T]:
    """The released-code SSR variant (a named switch), called once per episode with all of its N rollouts.

    It follows `active_sampling(do_ssr=True)` of the released openrlhf/trainer/ppo_utils/replay_buffer.py:
    1. The current effective samples (|A| > 0) join the persistent FIFO `buffer` (see `released_buffer`) first.
    2. The candidates are the effective samples plus floor(all_correct_frac * |D_eff|) all-correct samples (zero
       advantage, marked `correct`), as many as there are (the released code takes the first ones in batch order; here
       a uniform pick).
    3. min(N // 2, #candidates) candidates are drawn with replacement, P proportional to |A| + 1e-4: an all-correct
       sample weighs 1e-4, so it is drawn rarely, not never (it carries no policy gradient but counts in token
       normalisation). `current` may repeat an index.
    4. The other N - #drawn slots come from the FIFO: the whole FIFO once per pass while the gap is larger than it,
       then a draw with replacement, P proportional to |A| + 1e-4, for the rest. The FIFO already holds this episode's
       effective samples, so they may come back here too (birth step == `step`).
    The training set thus has N samples; SPEC's "half the rollouts" is the cap of step 3. With an empty FIFO (nothing
    effective yet) the set is just the step-3 draws, where the released code would loop forever.
    """
    values = _as_float_vector(advantages)
    is_correct = torch.as_tensor(correct, dtype=torch.bool).reshape(-1)
    if not len(items) == len(values) == len(is_correct):
        raise ValueError("items, advantages and correct must have the same length")
    if not 0.0 <= all_correct_frac <= 1.0:
        raise ValueError(f"all_correct_frac must be in [0, 1], got {all_correct_frac}")
    effective = effective_indices(values)
    buffer.add([items[i] for i in effective], values[effective], step)
    pool = torch.nonzero((values == 0) & is_correct).reshape(-1)
    n_all_correct = min(int(all_correct_frac * len(effective)), len(pool))
    candidates = effective + pool[torch.randperm(len(pool), generator=generator)[:n_all_correct]].tolist()
    weights = priorities(values[candidates], 1.0, RELEASED_OFFSET)
    picks = _weighted_draw(weights, min(len(items) // 2, len(candidates)), generator)
    current = [candidates[k] for k in picks]
    missing = len(items) - len(current)
    replayed: list[tuple[T, int]] = []
    while len(buffer) and missing > len(buffer):
        replayed += buffer.entries()
        missing -= len(buffer)
    if len(buffer):
        replayed += buffer.draw(missing, 1.0, generator, offset=RELEASED_OFFSET)
    return Selection(current=current, replayed=replayed)


def dapo_accept_groups(rewards: Tensor, group_size: int) -> list[int]:
    """DAPO dynamic sampling's filter: indices of the groups whose rewards are not all equal.

    Those are exactly the groups with a non-zero advantage. With a 0/1 accuracy reward this is DAPO's
    0 < #correct < G; with a format-aware reward (HFRRF, r1_zero, released shaping) correctness is not the signal.
    """
    groups = as_groups(torch.as_tensor(rewards, dtype=torch.float64), group_size)
    return torch.nonzero(groups.amax(dim=1) > groups.amin(dim=1)).reshape(-1).tolist()


class DapoBatch(Generic[T]):
    """Accumulates accepted groups over rollout rounds until `target_groups` are held or `max_rounds` are spent."""

    def __init__(self, target_groups: int, max_rounds: int) -> None:
        if target_groups < 1 or max_rounds < 1:
            raise ValueError(f"target_groups and max_rounds must be >= 1, got {target_groups}, {max_rounds}")
        self.target_groups = target_groups
        self.max_rounds = max_rounds
        self._groups: list[T] = []
        self._rounds = 0

    def add_round(self, groups: Sequence[T]) -> None:
        """Record one rollout round's accepted groups; any beyond the target are dropped (the batch stays exact)."""
        if self.done:
            raise RuntimeError("DapoBatch is done; start a new one")
        self._rounds += 1
        self._groups.extend(groups[: self.target_groups - len(self._groups)])

    @property
    def done(self) -> bool:
        """True once the target is reached or the round bound is hit."""
        return self.filled or self._rounds >= self.max_rounds

    @property
    def filled(self) -> bool:
        """True when the batch holds `target_groups` groups."""
        return len(self._groups) >= self.target_groups

    @property
    def rounds_used(self) -> int:
        """How many rollout rounds have been added."""
        return self._rounds

    @property
    def groups(self) -> list[T]:
        """The accepted groups so far, in arrival order."""
        return list(self._groups)
