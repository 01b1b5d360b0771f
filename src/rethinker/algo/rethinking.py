"""Forced rethinking's decisions (SPEC section 4): which responses get a trigger, which trigger, whether to cut before
the final answer, which continuations are kept, and the telemetry proving it acted.

Everything here is pure: the rollout engine generates, the reward code checks answers, `train/rethink_stage.py` wires
them together, and these functions decide. Defaults follow the paper; the released code's rules are switches of
`RethinkConfig` (see `RethinkConfig.released`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from rethinker.rollout.triggers import TRIGGER_PRESETS, TriggerSet

if TYPE_CHECKING:
    from rethinker.config import RethinkConfig, TriggerRule

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

AcceptReason = Literal["accepted", "too_short", "too_long", "wrong", "too_many_waits"]

RELEASED_GENERIC_PROB = 0.5
"""Released rule: probability of a content-blind trigger (bare "Wait" or self-questioning)."""
RELEASED_BARE_PROB = 0.4
"""Released rule: probability of the bare "Wait" among the content-blind triggers."""


def eligible(
    ended_with_eos: bool, length: int, budget: int, correct: bool, group_acc: float, cfg: RethinkConfig
) -> bool:
    """Whether a first response may be forced to rethink: finished, short enough, and not skipped as easy-but-wrong."""
    if budget <= 0 or length < 0:
        raise ValueError(f"need budget > 0 and length >= 0, got budget={budget}, length={length}")
    if not cfg.enabled or not ended_with_eos or length > cfg.max_len_frac * budget:
        return False
    return not (cfg.skip_wrong_in_easy and not correct and group_acc > cfg.easy_threshold)


def choose_for_rethinking(eligible_mask: Sequence[bool], q: float, rng: random.Random) -> list[int]:
    """Indices of the responses to force: each eligible one independently with probability q."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q}")
    return [index for index, is_eligible in enumerate(eligible_mask) if is_eligible and rng.random() < q]


def accept(continuation_len: int, correct: bool, wait_count: int, cfg: RethinkConfig) -> tuple[bool, AcceptReason]:
    """Whether a forced continuation is kept, and why; checks length first, then the answer, then the waits."""
    if continuation_len <= cfg.min_new_tokens:
        return False, "too_short"
    if continuation_len >= cfg.max_new_tokens:
        return False, "too_long"
    if not correct:
        return False, "wrong"
    if wait_count > cfg.max_waits:
        return False, "too_many_waits"
    return True, "accepted"


def cap_per_query(accepted: Sequence[tuple[K, int]], cap: int) -> list[tuple[K, int]]:
    """Keep at most `cap` accepted (query, response) pairs per query, first come first kept, order preserved."""
    if cap < 0:
        raise ValueError(f"cap must be non-negative, got {cap}")
    kept_per_query: defaultdict[K, int] = defaultdict(int)
    kept: list[tuple[K, int]] = []
    for query, response in accepted:
        if kept_per_query[query] < cap:
            kept_per_query[query] += 1
            kept.append((query, response))
    return kept


def replace_in_group(group: Sequence[T], replacements: Mapping[int, T]) -> list[T]:
    """A copy of the group with the responses at the given positions replaced by their accepted rethinks."""
    for index in replacements:
        if not 0 <= index < len(group):
            raise IndexError(f"replacement index {index} outside a group of {len(group)}")
    return [replacements.get(index, member) for index, member in enumerate(group)]


@dataclass(frozen=True)
class RethinkRecord:
    """What telemetry needs to know about one response of a rollout batch.

    `correct_after` is the rethought answer's correctness (ignored unless `forced`); `wait_count` counts the "wait"s
    the model wrote in the response that is trained on (a trigger's own "Wait" excluded).
    """

    forced: bool
    accepted: bool
    correct_before: bool
    correct_after: bool
    wait_count: int


def _share(flags: Sequence[bool]) -> float:
    """Fraction of true flags; 0.0 for none."""
    return sum(flags) / len(flags) if flags else 0.0


def rethink_metrics(records: Sequence[RethinkRecord]) -> dict[str, float]:
    """Metrics proving forced rethinking acted: forced and accepted shares, accuracy before/after, spontaneous waits.

    `forced_frac` is over all responses; `accepted_frac`, `acc_before` and `acc_after` over forced responses;
    `spontaneous_frac` is the share of un-forced responses with at least one "wait"; `wait_count_mean` is over all.
    A rate with no responses to count over is 0.0.
    """
    forced = [record for record in records if record.forced]
    unforced = [record for record in records if not record.forced]
    return {
        "rethink/forced_frac": _share([record.forced for record in records]),
        "rethink/accepted_frac": _share([record.accepted for record in forced]),
        "rethink/acc_before": _share([record.correct_before for record in forced]),
        "rethink/acc_after": _share([record.correct_after for record in forced]),
        "rethink/spontaneous_frac": _share([record.wait_count > 0 for record in unforced]),
        "rethink/wait_count_mean": sum(record.wait_count for record in records) / len(records) if records else 0.0,
    }


def test_time_rethink_summary(before_correct: Sequence[bool], after_correct: Sequence[bool]) -> dict[str, float]:
    """Accuracy without and with test-time forced rethinking, the shares that flipped, and the oracle (either right)."""
    if len(before_correct) != len(after_correct):
        raise ValueError(f"got {len(before_correct)} answers before rethinking but {len(after_correct)} after")
    pairs = list(zip(before_correct, after_correct, strict=True))
    return {
        "acc_before": _share([before for before, _ in pairs]),
        "acc_after": _share([after for _, after in pairs]),
        "right_to_wrong": _share([before and not after for before, after in pairs]),
        "wrong_to_right": _share([after and not before for before, after in pairs]),
        "oracle": _share([before or after for before, after in pairs]),
    }


def choose_trigger(
    rule: TriggerRule, first_correct: bool, rng: random.Random, triggers: TriggerSet = TRIGGER_PRESETS["paper"]
) -> str:
    """Pick the trigger for one response.

    `uniform` (paper, default): uniform over `triggers.pool`. `released`: with probability 0.5 a content-blind trigger
    (bare "Wait" with probability 0.4, else self-questioning); otherwise self-verification when the first answer was
    correct and self-correction when it was not.
    """
    if rule == "uniform":
        return rng.choice(triggers.pool)
    if rule == "released":
        if rng.random() < RELEASED_GENERIC_PROB:
            return triggers.bare if rng.random() < RELEASED_BARE_PROB else triggers.questioning
        return triggers.verification if first_correct else triggers.correction
    raise ValueError(f"unknown trigger rule {rule!r}; choose uniform or released")


def choose_cut(cut_prob: float, rng: random.Random) -> bool:
    """Decide whether a response is cut before its final answer (released code: probability 0.5)."""
    return rng.random() < cut_prob
