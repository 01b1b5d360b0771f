"""Tests for rethinking triggers: presets, the two choice rules, and cutting before the final answer."""

import random
from collections import Counter

import pytest

from rethinker.algo.rethinking import choose_cut, choose_trigger
from rethinker.rollout.triggers import (
    BARE_WAIT,
    PAPER_TRIGGERS,
    SELF_CORRECTION,
    SELF_QUESTIONING,
    SELF_VERIFICATION,
    TRIGGER_PRESETS,
    TriggerSet,
    build_rethink_prefix,
    cut_before_final_answer,
    trigger_set,
)

TRIALS = 10_000
TOLERANCE = 0.02
"""Five standard errors of a share near 0.5 over 10k draws (sd = 0.005): a correct rule never misses it."""


def frequencies(draws: list[str]) -> dict[str, float]:
    """Share of each distinct draw."""
    return {text: count / len(draws) for text, count in Counter(draws).items()}


def test_paper_triggers_are_the_three_texts_of_the_paper() -> None:
    assert PAPER_TRIGGERS == (
        "\n\nWait, does it seem right?",
        "\n\nWait, there might be a mistake",
        "\n\nWait, let's double check",
    )
    assert BARE_WAIT == "\n\nWait"


def test_trigger_set_resolves_presets_and_user_lists() -> None:
    assert trigger_set("paper").pool == PAPER_TRIGGERS
    assert trigger_set("wait").pool == (BARE_WAIT,)
    assert set(trigger_set("released").pool) == {*PAPER_TRIGGERS, BARE_WAIT}
    own = trigger_set(["\n\nHmm, let me re-check the image."])
    assert own.pool == ("\n\nHmm, let me re-check the image.",)
    assert own.verification == SELF_VERIFICATION


@pytest.mark.parametrize("bad", [[], [""], ["  \n"]])
def test_trigger_set_rejects_empty_or_blank_triggers(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        trigger_set(bad)


def test_unknown_preset_and_rule_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown trigger preset"):
        trigger_set("papr")
    with pytest.raises(ValueError, match="unknown trigger rule"):
        choose_trigger("random", True, random.Random(0))  # type: ignore[arg-type]


def test_uniform_rule_draws_each_paper_trigger_a_third_of_the_time() -> None:
    rng = random.Random(1)
    draws = [choose_trigger("uniform", first_correct=index % 2 == 0, rng=rng) for index in range(TRIALS)]
    shares = frequencies(draws)
    assert set(shares) == set(PAPER_TRIGGERS)
    for share in shares.values():
        assert share == pytest.approx(1 / 3, abs=TOLERANCE)


def test_uniform_rule_draws_from_a_user_pool() -> None:
    pool = TriggerSet(pool=("\n\nA", "\n\nB"))
    draws = [choose_trigger("uniform", True, random.Random(seed), pool) for seed in range(200)]
    assert set(draws) == {"\n\nA", "\n\nB"}


@pytest.mark.parametrize(
    ("first_correct", "expected"),
    [
        (True, {BARE_WAIT: 0.2, SELF_QUESTIONING: 0.3, SELF_VERIFICATION: 0.5}),
        (False, {BARE_WAIT: 0.2, SELF_QUESTIONING: 0.3, SELF_CORRECTION: 0.5}),
    ],
)
def test_released_rule_frequencies(first_correct: bool, expected: dict[str, float]) -> None:
    rng = random.Random(2)
    shares = frequencies(
        [choose_trigger("released", first_correct, rng, TRIGGER_PRESETS["released"]) for _ in range(TRIALS)]
    )
    assert set(shares) == set(expected)
    for trigger, share in expected.items():
        assert shares[trigger] == pytest.approx(share, abs=TOLERANCE)


def test_choose_cut_follows_its_probability() -> None:
    rng = random.Random(3)
    assert sum(choose_cut(0.5, rng) for _ in range(TRIALS)) / TRIALS == pytest.approx(0.5, abs=TOLERANCE)
    assert not any(choose_cut(0.0, rng) for _ in range(100))


def test_cut_boxed_form_drops_the_answer_sentence() -> None:
    text = "The area is 3 times 4.\nSo it is 12. Therefore the answer is $\\boxed{12}$."
    assert cut_before_final_answer(text) == "The area is 3 times 4.\nSo it is 12."


def test_cut_boxed_form_uses_the_last_boxed_answer() -> None:
    text = "First guess \\boxed{3}.\nRecount: 4 sides.\n\\boxed{4}"
    assert cut_before_final_answer(text) == "First guess \\boxed{3}.\nRecount: 4 sides."


def test_cut_drops_a_final_answer_heading() -> None:
    text = "Add 2 and 3 to get 5.\n\n**Final Answer**\n\\boxed{5}"
    assert cut_before_final_answer(text) == "Add 2 and 3 to get 5."


def test_cut_answer_form_reopens_the_reasoning() -> None:
    text = "<think>Count the apples: 2 + 3 = 5.</think>\n<answer>\\boxed{5}</answer>"
    assert cut_before_final_answer(text) == "<think>Count the apples: 2 + 3 = 5."


def test_cut_without_sentence_boundary_keeps_text_before_the_answer() -> None:
    assert cut_before_final_answer("It must be \\boxed{7}") == "It must be"


@pytest.mark.parametrize("text", ["No final answer stated here.", "\\boxed{5}", "<answer>5</answer>", ""])
def test_cut_returns_none_when_nothing_is_left_to_cut(text: str) -> None:
    assert cut_before_final_answer(text) is None


def test_prefix_appends_the_trigger_to_the_whole_response() -> None:
    response = "2 + 2 = 4, so \\boxed{4}.\n"
    assert build_rethink_prefix(response, BARE_WAIT, cut=False) == "2 + 2 = 4, so \\boxed{4}.\n\nWait"


def test_prefix_with_cut_removes_the_final_answer() -> None:
    response = "Two pairs make 4.\nThe answer is \\boxed{4}."
    prefix = build_rethink_prefix(response, SELF_VERIFICATION, cut=True)
    assert prefix == "Two pairs make 4." + SELF_VERIFICATION
    assert "boxed" not in prefix


def test_prefix_with_cut_keeps_a_response_without_final_answer() -> None:
    assert build_rethink_prefix("I am not sure.", BARE_WAIT, cut=True) == "I am not sure.\n\nWait"
