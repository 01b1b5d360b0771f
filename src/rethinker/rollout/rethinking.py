"""Forced rethinking (SPEC section 4): which responses get a trigger, which continuations are kept, and telemetry.

Everything here is pure: the rollout engine generates, the reward code checks answers, and these functions decide.
Defaults follow the paper; the authors' released-code rules are switches (see `RethinkConfig.released`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from rethinker.rollout.triggers import TRIGGER_RULES, TriggerRule, TriggerSet, trigger_set

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

AcceptReason = Literal["accepted", "too_short", "too_long", "wrong", "too_many_waits"]


@dataclass(frozen=True)
class RethinkConfig:
    """Settings of forced rethinking; the paper's behaviour by default, the released code's as switches.

    - `fraction` q: each eligible response is forced with this probability. The paper only says q < 1; the released
      code keeps 65% of eligible responses, so 0.65 is the default.
    - `max_len_frac`: a response is eligible only if its length is at most this share of the response budget, leaving
      room for the continuation (released: budget - 1024 of a 2048 budget, i.e. 0.5; the paper is silent).
    - `skip_wrong_in_easy` / `easy_threshold`: released switch; skip wrong responses of queries whose group accuracy
      is above the threshold (off by default: the paper does not mention it).
    - `trigger_rule` / `triggers`: "uniform" over the paper's three triggers by default; "released" with the "released"
      trigger preset reproduces the released code. `triggers` is a preset name or a list of trigger texts.
    - `cut_prob`: probability of cutting the response before its final answer. The paper appends the trigger after
      the full response (0.0); the released code cuts half of them (0.5).
    - `temperature`: sampling temperature of the continuation (0.9).
    - A continuation is accepted iff `min_new_tokens < length < max_new_tokens` (both exclusive), its final answer is
      correct, and it holds at most `max_waits` "wait"s (trigger included, as the released code counts); at most
      `max_accepted_per_query` accepted rethinks per query.
    """

    enabled: bool = False
    fraction: float = 0.65
    max_len_frac: float = 0.5
    skip_wrong_in_easy: bool = False
    easy_threshold: float = 0.7
    trigger_rule: TriggerRule = "uniform"
    triggers: str | tuple[str, ...] = "paper"
    cut_prob: float = 0.0
    temperature: float = 0.9
    min_new_tokens: int = 30
    max_new_tokens: int = 1024
    max_waits: int = 4
    max_accepted_per_query: int = 2

    def __post_init__(self) -> None:
        for name in ("fraction", "easy_threshold", "cut_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.max_len_frac <= 1.0:
            raise ValueError(f"max_len_frac must lie in (0, 1], got {self.max_len_frac}")
        if self.trigger_rule not in TRIGGER_RULES:
            raise ValueError(f"trigger_rule must be one of {TRIGGER_RULES}, got {self.trigger_rule!r}")
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not 0 <= self.min_new_tokens < self.max_new_tokens:
            raise ValueError(
                f"need 0 <= min_new_tokens < max_new_tokens, got {self.min_new_tokens} and {self.max_new_tokens}"
            )
        for name in ("max_waits", "max_accepted_per_query"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        self.trigger_set()

    def trigger_set(self) -> TriggerSet:
        """The triggers this configuration draws from."""
        return trigger_set(self.triggers)

    @classmethod
    def released(cls) -> RethinkConfig:
        """The authors' released-code settings: skip wrong answers in easy groups, released trigger rule, cut half."""
        return cls(
            enabled=True,
            skip_wrong_in_easy=True,
            trigger_rule="released",
            triggers="released",
            cut_prob=0.5,
        )


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
