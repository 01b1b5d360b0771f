"""The think-then-answer format used by HFRRF and Vision-R1-Zero."""

import pytest

from rethinker.rewards.format import formatted_answer, has_think_answer_format, think_answer_parts


@pytest.mark.parametrize(
    "response",
    [
        "<think>2 + 2 = 4</think><answer>4</answer>",
        "<think>\nlong\nreasoning\n</think>\n\n<answer>Final Answer: 4</answer>\n",
        "  <think></think> <answer>\\boxed{4}</answer>",
    ],
)
def test_well_formatted_responses(response: str) -> None:
    assert has_think_answer_format(response)


@pytest.mark.parametrize(
    "response",
    [
        "2 + 2 = 4, so \\boxed{4}",
        "Sure! <think>x</think><answer>4</answer>",
        "<think>x</think><answer>4</answer> Hope this helps.",
        "<think>x</think> so <answer>4</answer>",
        "<think>a</think><think>b</think><answer>4</answer>",
        "<think>a</think><answer>4</answer><answer>5</answer>",
        "<think>unterminated<answer>4</answer>",
        "<answer>4</answer><think>x</think>",
        "",
    ],
)
def test_badly_formatted_responses(response: str) -> None:
    assert not has_think_answer_format(response)


def test_parts_and_final_answer_prefix() -> None:
    assert think_answer_parts("<think>r</think>\n<answer> a </answer>") == ("r", " a ")
    assert formatted_answer("<think>r</think><answer>Final Answer: $\\frac{1}{2}$</answer>") == "\\frac{1}{2}"
    assert formatted_answer("no tags") is None
