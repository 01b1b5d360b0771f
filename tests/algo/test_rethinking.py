"""Tests for forced rethinking: eligibility, selection, acceptance, per-query cap, replacement and telemetry."""

import random
from typing import get_args

import pytest

import rethinker.algo.rethinking as rethinking
from rethinker.algo.rethinking import (
    RethinkRecord,
    accept,
    cap_per_query,
    choose_for_rethinking,
    eligible,
    replace_in_group,
    rethink_metrics,
)
from rethinker.config import RethinkConfig, TriggerPreset
from rethinker.rewards.extract import count_waits
from rethinker.rollout.triggers import TRIGGER_PRESETS, trigger_set

PAPER = RethinkConfig(enabled=True)
RELEASED = RethinkConfig.released()


def test_defaults_follow_the_paper_and_released_switches_differ() -> None:
    assert (PAPER.fraction, PAPER.max_len_frac, PAPER.cut_prob, PAPER.trigger_rule) == (0.65, 0.5, 0.0, "uniform")
    assert not PAPER.skip_wrong_in_easy
    assert (RELEASED.cut_prob, RELEASED.trigger_rule, RELEASED.skip_wrong_in_easy) == (0.5, "released", True)
    assert trigger_set(RELEASED.triggers) == TRIGGER_PRESETS["released"]
    assert not RethinkConfig().enabled


def test_the_config_offers_exactly_the_trigger_presets() -> None:
    assert set(get_args(TriggerPreset)) == set(TRIGGER_PRESETS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"fraction": 1.5},
        {"cut_prob": -0.1},
        {"max_len_frac": 0.0},
        {"trigger_rule": "sometimes"},
        {"triggers": "nope"},
        {"min_new_tokens": 1024},
        {"max_waits": -1},
        {"temperature": 0.0},
        {"triggers": []},
        {"triggers": ["fine", " "]},
    ],
)
def test_config_rejects_bad_values(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RethinkConfig(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ended_with_eos", "length", "correct", "group_acc", "cfg", "expected"),
    [
        (True, 100, True, 0.5, PAPER, True),
        (False, 100, True, 0.5, PAPER, False),  # truncated: nothing to append to
        (True, 1024, True, 0.5, PAPER, True),  # exactly half the budget
        (True, 1025, True, 0.5, PAPER, False),  # no room left for the continuation
        (True, 100, False, 0.875, PAPER, True),  # the paper does not skip easy-but-wrong
        (True, 100, False, 0.875, RELEASED, False),  # released: wrong in an easy group is skipped
        (True, 100, False, 0.7, RELEASED, True),  # threshold is strict
        (True, 100, True, 0.875, RELEASED, True),  # right answers in easy groups stay eligible
        (True, 100, True, 0.5, RethinkConfig(), False),  # disabled
    ],
)
def test_eligibility_table(
    ended_with_eos: bool, length: int, correct: bool, group_acc: float, cfg: RethinkConfig, expected: bool
) -> None:
    assert eligible(ended_with_eos, length, 2048, correct, group_acc, cfg) is expected


def test_eligibility_rejects_a_non_positive_budget() -> None:
    with pytest.raises(ValueError):
        eligible(True, 10, 0, True, 0.5, PAPER)


def test_fraction_q_is_respected_over_10k_trials() -> None:
    rng = random.Random(0)
    mask = [True, False] * 5_000
    chosen = choose_for_rethinking(mask, 0.65, rng)
    assert all(mask[index] for index in chosen)
    assert chosen == sorted(set(chosen))
    # 5k eligible draws: sd of the share is 0.0067, the tolerance 0.02 is three of them.
    assert len(chosen) / 5_000 == pytest.approx(0.65, abs=0.02)


def test_fraction_extremes_and_bad_q() -> None:
    mask = [True, True, False, True]
    assert choose_for_rethinking(mask, 1.0, random.Random(0)) == [0, 1, 3]
    assert choose_for_rethinking(mask, 0.0, random.Random(0)) == []
    with pytest.raises(ValueError):
        choose_for_rethinking(mask, 1.2, random.Random(0))


@pytest.mark.parametrize(
    ("length", "correct", "waits", "expected"),
    [
        (200, True, 1, (True, "accepted")),
        (30, True, 1, (False, "too_short")),  # bounds are exclusive
        (31, True, 1, (True, "accepted")),
        (1023, True, 4, (True, "accepted")),
        (1024, True, 1, (False, "too_long")),
        (200, False, 1, (False, "wrong")),
        (200, True, 5, (False, "too_many_waits")),
        (10, False, 9, (False, "too_short")),  # length is checked first
    ],
)
def test_acceptance_reasons(length: int, correct: bool, waits: int, expected: tuple[bool, str]) -> None:
    assert accept(length, correct, waits, PAPER) == expected


def test_cap_per_query_keeps_the_first_ones_in_order() -> None:
    accepted = [(0, 1), (1, 0), (0, 3), (0, 5), (1, 2), (1, 4), (2, 7)]
    assert cap_per_query(accepted, 2) == [(0, 1), (1, 0), (0, 3), (1, 2), (2, 7)]
    assert cap_per_query(accepted, 0) == []
    assert cap_per_query([("q-a", 0), ("q-a", 1)], 1) == [("q-a", 0)]


def test_replace_in_group_swaps_only_the_given_positions() -> None:
    group = ["y0", "y1", "y2", "y3"]
    assert replace_in_group(group, {1: "y1+rethink", 3: "y3+rethink"}) == ["y0", "y1+rethink", "y2", "y3+rethink"]
    assert group == ["y0", "y1", "y2", "y3"]
    with pytest.raises(IndexError):
        replace_in_group(group, {4: "nope"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wait, does it seem right? WAIT. wait", 3),
        ("I was waiting; await the result; wait-list", 1),
        ("no pause here", 0),
    ],
)
def test_count_waits_counts_whole_words(text: str, expected: int) -> None:
    assert count_waits(text) == expected


def test_rethink_metrics_from_records() -> None:
    records = [
        RethinkRecord(forced=True, accepted=True, correct_before=False, correct_after=True, wait_count=1),
        RethinkRecord(forced=True, accepted=False, correct_before=True, correct_after=False, wait_count=0),
        RethinkRecord(forced=False, accepted=False, correct_before=True, correct_after=True, wait_count=2),
        RethinkRecord(forced=False, accepted=False, correct_before=False, correct_after=False, wait_count=0),
    ]
    assert rethink_metrics(records) == pytest.approx(
        {
            "rethink/forced_frac": 0.5,
            "rethink/accepted_frac": 0.5,
            "rethink/acc_before": 0.5,
            "rethink/acc_after": 0.5,
            "rethink/spontaneous_frac": 0.5,
            "rethink/wait_count_mean": 0.75,
        }
    )


def test_rethink_metrics_are_zero_not_nan_without_forced_responses() -> None:
    metrics = rethink_metrics([RethinkRecord(False, False, True, True, 0)])
    assert metrics["rethink/forced_frac"] == 0.0
    assert metrics["rethink/accepted_frac"] == 0.0
    assert rethink_metrics([])["rethink/wait_count_mean"] == 0.0


def test_test_time_summary_counts_flips_and_oracle() -> None:
    before = [True, True, False, False, True]
    after = [True, False, True, False, True]
    summary = rethinking.test_time_rethink_summary(before, after)
    assert summary == pytest.approx(
        {"acc_before": 0.6, "acc_after": 0.6, "right_to_wrong": 0.2, "wrong_to_right": 0.2, "oracle": 0.8}
    )
    with pytest.raises(ValueError):
        rethinking.test_time_rethink_summary([True], [True, False])
