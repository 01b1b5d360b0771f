"""Stage-4 rules on hand-written reasoning texts."""

from __future__ import annotations

import time

import pytest

from rethinker.coldstart.config import FilterConfig
from rethinker.coldstart.filters import (
    answers_match,
    extract_final_answer,
    filter_reasoning,
    normalize_answer,
    replace_description_words,
    split_reply,
    wrap_response,
)

CONFIG = FilterConfig(min_reasoning_chars=20)
THINKING = (
    "The description says the triangle has legs 3 and 4. By Pythagoras the hypotenuse is sqrt(9 + 16) = 5. "
    "So the answer is 5."
)


@pytest.mark.parametrize(
    ("text", "answer", "rule"),
    [
        ("so we get \\boxed{\\frac{1}{2}} in the end", "\\frac{1}{2}", "boxed"),
        ("first \\boxed{3}, then \\boxed{4}", "4", "boxed"),
        ("<answer> 12 </answer>", "12", "answer_tag"),
        ("Work...\nFinal Answer: 7 cm\n", "7 cm", "answer_line"),
        ("Thus the answer is 42, because it is.", "42", "answer_is"),
        ("The correct answer is (B).", "(B)", "answer_is"),
    ],
)
def test_extract_final_answer_rules(text: str, answer: str, rule: str) -> None:
    found = extract_final_answer(text)
    assert found is not None
    assert (found.answer, found.rule) == (answer, rule)


def test_extract_final_answer_skips_an_unclosed_box_and_finds_nothing_in_plain_text() -> None:
    assert extract_final_answer("the value is \\boxed{5") is None
    assert extract_final_answer("no conclusion here") is None


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ("$5$", "5"),
        ("\\boxed{5}", "5.0"),
        ("x = 5", "5"),
        ("\\dfrac{1}{2}", "0.5"),
        ("1/2", "\\frac{1}{2}"),
        ("1,000", "1000"),
        ("30^\\circ", "30"),
        ("7 cm", "7"),
        ("(B)", "B"),
        ("b. 12 cm", "B"),
        ("\\text{Yes}", "yes"),
        ("Paris.", "paris"),
    ],
)
def test_answers_that_match(predicted: str, gold: str) -> None:
    assert answers_match(predicted, gold)


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ("6", "5"),
        ("A or B", "A"),
        ("A, B", "A"),
        ("C", "A"),
        ("5 or 6", "5"),
        ("", "5"),
        ("0.5", "50%"),
        ("London", "paris"),
    ],
)
def test_answers_that_do_not_match(predicted: str, gold: str) -> None:
    assert not answers_match(predicted, gold)


def test_normalize_answer_is_bounded_on_huge_input() -> None:
    start = time.perf_counter()
    assert len(normalize_answer("9" * 1_000_000)) <= 500
    assert not answers_match("{" * 100_000, "5")
    assert time.perf_counter() - start < 2.0


def test_kept_reasoning_is_rewritten_and_wrapped() -> None:
    result = filter_reasoning(
        content="The answer is \\boxed{5}.", reasoning=THINKING, finish_reason="stop", gold="5", config=CONFIG
    )
    assert result.reason is None
    assert result.final_answer == "5" and result.rule == "boxed"
    assert result.response.startswith("<think>\nThe image shows the triangle has legs 3 and 4.")
    assert result.response.endswith("</think>\n<answer>\nThe answer is \\boxed{5}.\n</answer>")
    assert "description" not in result.response.lower()


def test_think_tags_in_content_are_split() -> None:
    content = f"{THINKING}</think>\n\nThe hypotenuse is \\boxed{{5}}."
    result = filter_reasoning(content, "", "stop", "5", CONFIG)
    assert result.reason is None
    assert result.response.count("<think>") == 1 and result.response.count("</think>") == 1


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
def test_dropped_reasoning_reasons(content: str, reasoning: str, finish_reason: str, reason: str) -> None:
    result = filter_reasoning(content, reasoning, finish_reason, "5", CONFIG)
    assert result.reason == reason
    assert result.response == ""


def test_self_correction_inside_thinking_is_kept_when_the_final_conclusion_agrees() -> None:
    thinking = "First guess: the answer is 4. Wait, I mixed up the legs; recomputing gives 5. So the answer is 5."
    assert filter_reasoning("\\boxed{5}", thinking, "stop", "5", CONFIG).reason is None


def test_thinking_only_reply_uses_its_last_answer() -> None:
    result = filter_reasoning(THINKING, "", None, "5", CONFIG)
    assert result.reason is None
    assert result.response.endswith("<answer>\n5\n</answer>")


def test_too_long_reasoning_is_dropped() -> None:
    result = filter_reasoning(
        "\\boxed{5}", "x" * 300, "stop", "5", FilterConfig(min_reasoning_chars=1, max_reasoning_chars=100)
    )
    assert result.reason == "too_long"


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
    assert split_reply("<answer>7</answer>", "thought") == ("thought", "7", False)
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
    ],
)
def test_pathological_replies_finish_quickly(text: str) -> None:
    start = time.perf_counter()
    for content, reasoning in ((text, ""), ("\\boxed{1}", text), (text, "enough thinking to pass")):
        filter_reasoning(content, reasoning, "stop", "1", FilterConfig(min_reasoning_chars=1))
    assert time.perf_counter() - start < 6.0
