"""Answer extraction: each rule, its order, think stripping, nested and several boxed answers, bounded time."""

import time

import pytest

from rethinker.rewards.extract import (
    Extraction,
    before_first_wait,
    boxed_answers,
    clean_answer,
    count_waits,
    extract_answer,
    final_boxed_group,
    strip_think,
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("so it is \\boxed{5}.", Extraction("5", "boxed")),
        ("\\fbox{7} done", Extraction("7", "boxed")),
        ("<think>x</think><answer>Final Answer: 12</answer>", Extraction("12", "answer_tag")),
        ("Work.\nAnswer: 3/4\nThanks", Extraction("3/4", "answer_line")),
        ("**Final Answer:** $x^2$", Extraction("x^2", "answer_line")),
        ("Final Answer:\n\n  42\n", Extraction("42", "answer_line")),
        ("Thus the answer is 3.5. Done.", Extraction("3.5", "answer_phrase")),
        ("So the final answer is: **B**", Extraction("B", "answer_phrase")),
        ("Looking at the figure...\n(C)", Extraction("C", "choice_letter")),
        ("Comparing options.\nB. 12 cm", Extraction("B", "choice_letter")),
        ("no answer here", Extraction(None, "none")),
        ("A triangle is drawn.", Extraction(None, "none")),
        ("", Extraction(None, "none")),
    ],
)
def test_each_rule_is_named(response: str, expected: Extraction) -> None:
    assert extract_answer(response) == expected


def test_boxed_wins_over_later_rules() -> None:
    response = "The answer is 4.\nAnswer: 4\n<answer>4</answer> and finally \\boxed{5}"
    assert extract_answer(response) == Extraction("5", "boxed")


def test_nested_braces_in_boxed_are_balanced() -> None:
    response = "\\boxed{\\frac{\\sqrt{2}}{2}} is one result; the set of roots is \\boxed{\\{1, 2\\}}"
    assert extract_answer(response).answer == "\\{1, 2\\}"
    assert boxed_answers(response) == ["\\frac{\\sqrt{2}}{2}", "\\{1, 2\\}"]


def test_last_balanced_boxed_is_taken_when_the_tail_is_cut() -> None:
    assert extract_answer("first \\boxed{3} then truncated \\boxed{4").answer == "3"


def test_boxed_inside_boxed_counts_once() -> None:
    assert boxed_answers("\\boxed{x = \\boxed{2}}") == ["x = \\boxed{2}"]


def test_several_adjacent_boxed_answers_join_into_one_group() -> None:
    assert extract_answer("roots: \\boxed{2}, \\boxed{3}").answer == "2, 3"
    assert final_boxed_group("roots: \\boxed{2} or \\boxed{3}") == ["2", "3"]
    assert final_boxed_group("\\boxed{2} \\boxed{2}") == ["2"]


def test_a_rethink_that_changes_its_answer_keeps_only_the_last() -> None:
    response = "So \\boxed{5}.\n\nWait, there might be a mistake. Recomputing the area gives \\boxed{7}."
    assert final_boxed_group(response) == ["7"]
    assert extract_answer(response) == Extraction("7", "boxed")
    assert boxed_answers(response) == ["5", "7"]


def test_think_block_is_stripped_before_looking_for_answers() -> None:
    assert extract_answer("<think>maybe \\boxed{3} or (A)</think>\nThe answer is 9.").answer == "9"
    assert extract_answer("<think>\\boxed{3}</think>") == Extraction(None, "none")
    assert extract_answer("<think>unfinished \\boxed{3}") == Extraction(None, "none")
    assert strip_think("reasoning only</think> tail") == " tail"


def test_escaped_braces_do_not_unbalance_boxed() -> None:
    assert extract_answer("\\boxed{\\{ 1 \\}}").answer == "\\{ 1 \\}"


def test_megabyte_inputs_return_quickly() -> None:
    hostile = ["\\boxed{" * 300_000, "{" * 1_000_000 + "\\boxed{1}", "Answer: " * 200_000, "x" * 2_000_000]
    start = time.perf_counter()
    results = [extract_answer(text) for text in hostile]
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert results[0] == Extraction(None, "none")
    assert results[1] == Extraction("1", "boxed")


@pytest.mark.parametrize(
    ("text", "count"),
    [("Wait, wait. WAIT!", 3), ("awaiting the waiter", 0), ("Hmm. Wait", 1), ("", 0)],
)
def test_count_waits(text: str, count: int) -> None:
    assert count_waits(text) == count


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (" $x$. ", "x"),
        ("\\( \\frac{1}{2} \\)", "\\frac{1}{2}"),
        ("\\[ 3 \\]", "3"),
        ("**Answer:** 7", "7"),
        ("a.b.", "a.b"),
    ],
)
def test_clean_answer(raw: str, clean: str) -> None:
    assert clean_answer(raw) == clean


def test_the_last_statement_on_a_line_wins() -> None:
    assert extract_answer("First guess: the answer is 4. Wait, no. So the answer is 5.").answer == "5"
    assert extract_answer("Answer: 4. Answer: 5.").answer == "5"


def test_a_stated_answer_ends_at_its_sentence_or_reason() -> None:
    assert extract_answer("So the answer is 42, because 6 * 7 = 42").answer == "42"
    assert extract_answer("Answer: B. The others do not fit.").answer == "B"
    assert extract_answer("Answer: 1,000 apples").answer == "1,000 apples"


def test_before_first_wait_keeps_the_answer_given_before_a_rethink() -> None:
    text = "I count 6 dots. \\boxed{6}\n\nWait, let's double check. I count 7 dots again. \\boxed{7}"
    assert before_first_wait(text) == "I count 6 dots. \\boxed{6}\n\n"
    assert extract_answer(before_first_wait(text)).answer == "6"
    assert before_first_wait("no rethink \\boxed{3}") == "no rethink \\boxed{3}"
    assert before_first_wait("WAIT first") == "" and before_first_wait("awaited \\boxed{1}") == "awaited \\boxed{1}"
