"""Stage-4 rules on hand-written reasoning texts, with answers checked by the reward package's real verifier."""

from __future__ import annotations

import time

import pytest

from rethinker.coldstart.config import FilterConfig
from rethinker.coldstart.filters import (
    MAX_CLAIMS,
    ends_inside_boxed,
    filter_reasoning,
    other_claims,
    reconsideration,
    replace_description_words,
    split_reply,
    stated_answers,
    wrap_response,
)
from rethinker.data.schema import Example
from rethinker.rewards.extract import extract_answer
from rethinker.rewards.verify import Verifier

CONFIG = FilterConfig(min_reasoning_chars=20)
THINKING = (
    "The description says the triangle has legs 3 and 4. By Pythagoras the hypotenuse is sqrt(9 + 16) = 5. "
    "So the answer is 5."
)
NEUTRAL_THINKING = "Reading the figure carefully and working step by step gives the value written below."


def example(answer: str = "5", choices: tuple[str, ...] = ()) -> Example:
    """A question about a right triangle with the given gold answer."""
    return Example(
        id="q",
        question="A right triangle has legs 3 and 4. How long is its hypotenuse?",
        answer=answer,
        choices=choices,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 4. So \\boxed{5}.", ["4", "5"]),
        ("The answer is \\boxed{5}.", ["5"]),
        ("Final Answer: The hypotenuse is \\boxed{5} units.", ["5"]),
        ("\\boxed{4} was a slip; the correct value is \\boxed{5}", ["4", "5"]),
        ("Options:\nA. 3\nB. 5\n\\boxed{B}", ["B"]),
        ("First the answer is 4. Then the answer is 5.", ["4", "5"]),
        ("Answer: 4. Answer: 5.", ["4", "5"]),
        ("<think>the answer is 9</think>\\boxed{5}", ["5"]),
        ("nothing stated here", []),
    ],
)
def test_stated_answers_in_reading_order(text: str, expected: list[str]) -> None:
    assert stated_answers(text) == expected


def test_other_claims_leave_out_the_final_answer_and_its_boxed_group() -> None:
    assert other_claims("The answer is 4. So \\boxed{5}.", "5") == ["4"]
    assert other_claims("so \\boxed{1}, \\boxed{2}", "1, 2") == []
    many = " ".join(f"\\boxed{{{value}}} is wrong, really wrong." for value in range(20)) + " \\boxed{99}"
    assert other_claims(many, "99") == [str(value) for value in range(20 - MAX_CLAIMS, 20)]


def test_reconsideration_is_a_hesitation_not_followed_by_the_final_answer() -> None:
    text = "The answer is \\boxed{5}. Hmm, actually it could be 13."
    assert reconsideration(text, extract_answer(text)) == "actually"
    restated = "The answer is \\boxed{4}. Wait, recomputing: the answer is \\boxed{5}."
    assert reconsideration(restated, extract_answer(restated)) is None
    assert reconsideration("\\boxed{5}", extract_answer("\\boxed{5}")) is None


def test_ends_inside_boxed() -> None:
    assert ends_inside_boxed("so \\boxed{5} and then \\boxed{\\frac{1}{")
    assert not ends_inside_boxed("so \\boxed{\\frac{1}{2}}.")
    assert not ends_inside_boxed("no box at all {")


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("$5$", "5"),
        ("5", "5.0"),
        ("x = 5", "5"),
        ("\\dfrac{1}{2}", "0.5"),
        ("1/2", "\\frac{1}{2}"),
        ("1,000", "1000"),
        ("30^\\circ", "30"),
        ("7 cm", "7"),
        ("(B)", "B"),
        ("B. 12 cm", "B"),
        ("\\text{Yes}", "yes"),
        ("Paris.", "paris"),
        ("0.5", "50\\%"),
    ],
)
def test_answers_the_reward_package_accepts_are_kept(answer: str, gold: str, verifier: Verifier) -> None:
    content = f"The answer is \\boxed{{{answer}}}."
    result = filter_reasoning(content, NEUTRAL_THINKING, "stop", example(gold), CONFIG, verifier)
    assert result.reason is None, result.detail


@pytest.mark.parametrize(
    ("answer", "gold", "reason"),
    [
        ("6", "5", "wrong_answer"),
        ("C", "A", "wrong_answer"),
        ("b. 12 cm", "B", "wrong_answer"),
        ("London", "paris", "wrong_answer"),
        ("A or B", "A", "guard_hedge"),
        ("5 or 6", "5", "guard_hedge"),
        ("A, B", "A", "guard_hedge"),
        ("", "5", "guard_empty"),
        ("\\text{its hypotenuse}", "5", "wrong_answer"),
    ],
)
def test_answers_the_reward_package_rejects_are_dropped(
    answer: str, gold: str, reason: str, verifier: Verifier
) -> None:
    result = filter_reasoning(f"\\boxed{{{answer}}}", NEUTRAL_THINKING, "stop", example(gold), CONFIG, verifier)
    assert (result.reason, result.response) == (reason, "")


def test_several_boxed_answers_are_a_hedge_unless_the_gold_has_several_parts(verifier: Verifier) -> None:
    content = "So \\boxed{1}, \\boxed{2}."
    thinking = "Both roots of x^2 - 3x + 2 work, so the answer is 1, 2."
    assert filter_reasoning(content, thinking, "stop", example("1"), CONFIG, verifier).reason == "guard_several_boxed"
    assert filter_reasoning(content, thinking, "stop", example("1, 2"), CONFIG, verifier).reason is None


def test_multiple_choice_answer_may_give_the_option_text(verifier: Verifier) -> None:
    gold = example("B", choices=("4", "5", "7"))
    thinking = THINKING + " That is option B."
    assert filter_reasoning("\\boxed{5}", thinking, "stop", gold, CONFIG, verifier).reason is None
    wrong = filter_reasoning("\\boxed{7}", thinking.replace("is 5.", "is 7."), "stop", gold, CONFIG, verifier)
    assert wrong.reason == "wrong_answer"


def test_a_copied_question_is_not_an_answer(verifier: Verifier) -> None:
    copied = "legs 3 and 4. How long is its hypotenuse"
    thinking = THINKING.replace("is 5.", f"is {copied}.")
    result = filter_reasoning(f"\\boxed{{{copied}}}", thinking, "stop", example(), CONFIG, verifier)
    assert result.reason == "guard_copied_question"


def test_kept_reasoning_is_rewritten_and_wrapped(verifier: Verifier) -> None:
    result = filter_reasoning("The answer is \\boxed{5}.", THINKING, "stop", example(), CONFIG, verifier)
    assert result.reason is None
    assert result.final_answer == "5" and result.rule == "boxed"
    assert result.response.startswith("<think>\nThe image shows the triangle has legs 3 and 4.")
    assert result.response.endswith("</think>\n<answer>\nThe answer is \\boxed{5}.\n</answer>")
    assert "description" not in result.response.lower()


def test_think_tags_in_content_are_split(verifier: Verifier) -> None:
    content = f"{THINKING}</think>\n\nThe hypotenuse is \\boxed{{5}}."
    result = filter_reasoning(content, "", "stop", example(), CONFIG, verifier)
    assert result.reason is None
    assert result.response.count("<think>") == 1 and result.response.count("</think>") == 1


@pytest.mark.parametrize(
    ("content", "reasoning"), [(f"<think>{THINKING}</think><answer>5</answer>", ""), ("<answer>5</answer>", THINKING)]
)
def test_an_answer_tag_after_the_thinking_is_the_final_answer(content: str, reasoning: str, verifier: Verifier) -> None:
    result = filter_reasoning(content, reasoning, "stop", example(), CONFIG, verifier)
    assert (result.reason, result.final_answer, result.rule) == (None, "5", "answer_tag")
    assert result.response.endswith("</think>\n<answer>\n5\n</answer>")


@pytest.mark.parametrize(
    ("content", "reasoning", "finish_reason", "reason"),
    [
        ("The answer is \\boxed{6}.", THINKING.replace("is 5", "is 6").replace("= 5", "= 6"), "stop", "wrong_answer"),
        ("The answer is \\boxed{5}.", THINKING, "length", "truncated"),
        ("<think>" + THINKING + " Let me also check the other", "", "stop", "truncated"),
        (THINKING + " Therefore \\boxed{", "", "stop", "truncated"),
        ("\\boxed{5}", "Five.", "stop", "empty_reasoning"),
        (
            "\\boxed{5}",
            "I cannot see the image, but assuming a 3-4-5 triangle the answer is 5.",
            "stop",
            "cannot_see_image",
        ),
        (
            "\\boxed{5}",
            "No image is provided, so I rely on the text: legs 3 and 4 give hypotenuse 5.",
            "stop",
            "cannot_see_image",
        ),
        (
            "It is a right triangle.",
            "Legs 3 and 4, the hypotenuse follows from Pythagoras directly.",
            "stop",
            "no_final_answer",
        ),
        ("The answer is 4. So \\boxed{5}.", THINKING, "stop", "conflicting_final_answers"),
        ("\\boxed{4}, no wait, after checking it is \\boxed{5}", THINKING, "stop", "conflicting_final_answers"),
        (
            "\\boxed{5}",
            THINKING.replace("So the answer is 5.", "So the answer is 7."),
            "stop",
            "conclusion_contradicts_answer",
        ),
        (THINKING + " Wait, maybe the legs are 5 and 12.", "", "stop", "reconsidered_after_conclusion"),
        ("The answer is \\boxed{5}. Hmm, actually it could be 13.", THINKING, "stop", "reconsidered_after_conclusion"),
    ],
)
def test_dropped_reasoning_reasons(
    content: str, reasoning: str, finish_reason: str, reason: str, verifier: Verifier
) -> None:
    result = filter_reasoning(content, reasoning, finish_reason, example(), CONFIG, verifier)
    assert result.reason == reason, result.detail
    assert result.response == ""


def test_equivalent_restatements_are_not_a_conflict(verifier: Verifier) -> None:
    content = "The answer is 5.0, that is \\boxed{5}."
    assert filter_reasoning(content, THINKING, "stop", example(), CONFIG, verifier).reason is None


def test_self_correction_inside_thinking_is_kept_when_the_final_conclusion_agrees(verifier: Verifier) -> None:
    for first_guess in ("the answer is 4", "\\boxed{4}"):
        thinking = f"First guess: {first_guess}. Wait, I mixed up the legs; recomputing gives 5. So the answer is 5."
        assert filter_reasoning("\\boxed{5}", thinking, "stop", example(), CONFIG, verifier).reason is None


def test_thinking_only_reply_uses_its_last_answer(verifier: Verifier) -> None:
    result = filter_reasoning(THINKING, "", None, example(), CONFIG, verifier)
    assert result.reason is None
    assert result.response.endswith("<answer>\n5\n</answer>")


def test_too_long_reasoning_is_dropped(verifier: Verifier) -> None:
    config = FilterConfig(min_reasoning_chars=1, max_reasoning_chars=100)
    assert filter_reasoning("\\boxed{5}", "x" * 300, "stop", example(), config, verifier).reason == "too_long"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The description says the angle is 30.", "The image shows the angle is 30."),
        ("As the description indicates, AB = 3.", "As the image shows, AB = 3."),
        ("From the image description, AB = 3.", "From the image, AB = 3."),
        ("THE DESCRIPTION SAYS so.", "THE IMAGE SHOWS so."),
        ("The shape described has 4 sides.", "The shape shown has 4 sides."),
        ("As described, the bar is tallest. Described above.", "As shown, the bar is tallest. Shown above."),
        ("It gives a description of a graph.", "It gives an image of a graph."),
        ("The description\ndescribes two circles.", "The image shows two circles."),
        ("Nondescript descriptive text stays.", "Nondescript descriptive text stays."),
    ],
)
def test_replace_description_words(text: str, expected: str) -> None:
    assert replace_description_words(text) == expected


def test_split_reply_and_wrap_remove_stray_tags() -> None:
    assert split_reply("<think>abc</think>def", "") == ("abc", "def", False)
    assert split_reply("abc</think>def", "") == ("abc", "def", False)
    assert split_reply("<think>x</think><answer>7</answer>", "thought") == ("thought", "x<answer>7</answer>", False)
    assert wrap_response("a <answer>b", "c</answer>") == "<think>\na b\n</think>\n<answer>\nc\n</answer>"


@pytest.mark.parametrize(
    "text",
    [
        "I cannot" + " " * 150_000 + "x",
        "the answer is" + "\t " * 75_000,
        "\\boxed{1} the answer is 1. " * 6_000,
        "\\boxed{" * 40_000 + "}" * 40_000,
        "{" * 190_000,
        "<answer>" * 20_000,
        "Wait, the answer is \\boxed{2}. " * 6_000,
        "\\boxed{" + "(" * 50_000 + "1" + ")" * 50_000 + "}",
        "\\boxed{10^{10^{10^{10}}}}",
    ],
)
def test_pathological_replies_finish_quickly(text: str, verifier: Verifier) -> None:
    config = FilterConfig(min_reasoning_chars=1)
    start = time.perf_counter()
    for content, reasoning in ((text, ""), ("\\boxed{1}", text), (text, "enough thinking to pass")):
        filter_reasoning(content, reasoning, "stop", example("1"), config, verifier)
    assert time.perf_counter() - start < 6.0
