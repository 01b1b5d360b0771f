"""An option letter wrapped in LaTeX text or font commands is the letter, with or without option texts; hedges that
the guards catch still score 0 when wrapped."""

import pytest

from rethinker.data.schema import Example
from rethinker.rewards.extract import extract_answer, unwrap_text
from rethinker.rewards.registry import get_reward_fn
from rethinker.rewards.verify import Verifier, leading_letter

WITH_OPTIONS = Example(
    id="o", question="Which shape has four sides?", answer="B", choices=("triangle", "square", "circle")
)
LETTER_ONLY = Example(id="l", question="Which shape has four sides? (A) triangle (B) square (C) circle", answer="B")

WRAPPED_CORRECT = [
    "So the shape is a square: $\\boxed{\\text{B}}$",
    "$\\boxed{\\textbf{B}}$",
    "$\\boxed{\\mathrm{B}}$",
    "\\boxed{\\textbf{(B)}}",
    "\\boxed{\\text{\\textbf{B}}}",
    "<think>four sides</think><answer>\\text{B}</answer>",
    "<think>four sides</think><answer>$\\mathrm{(B)}$</answer>",
    "It has four sides.\n\n\\textbf{B}",
    "It has four sides.\n\n$\\mathrm{B}$",
    "Answer: $\\text{B}$",
]
WRAPPED_HEDGES = [
    "\\boxed{\\text{A or B}}",
    "\\boxed{\\text{A}, \\text{B}}",
    "\\boxed{\\textbf{B} or \\textbf{C}}",
    "<answer>\\text{B, C}</answer>",
    "\\boxed{\\text{B}}, \\boxed{\\text{C}}",
]


@pytest.mark.parametrize("example", [WITH_OPTIONS, LETTER_ONLY], ids=["with_option_texts", "letters_only"])
@pytest.mark.parametrize("response", WRAPPED_CORRECT)
def test_a_wrapped_correct_letter_scores_one(verifier: Verifier, example: Example, response: str) -> None:
    result = get_reward_fn("accuracy")(response, example, verifier)
    assert (result.reward, result.correct) == (1.0, True)


@pytest.mark.parametrize("example", [WITH_OPTIONS, LETTER_ONLY], ids=["with_option_texts", "letters_only"])
@pytest.mark.parametrize("response", ["$\\boxed{\\text{C}}$", "<answer>\\textbf{A}</answer>", "\\mathrm{C}"])
def test_a_wrapped_wrong_letter_scores_zero(verifier: Verifier, example: Example, response: str) -> None:
    assert get_reward_fn("accuracy")(response, example, verifier).reward == 0.0


@pytest.mark.parametrize("example", [WITH_OPTIONS, LETTER_ONLY], ids=["with_option_texts", "letters_only"])
@pytest.mark.parametrize("response", WRAPPED_HEDGES)
def test_wrapped_hedges_are_caught_by_the_guards(verifier: Verifier, example: Example, response: str) -> None:
    result = get_reward_fn("accuracy")(response, example, verifier)
    assert result.reward == 0.0
    assert result.info["guard"] in {"hedge", "several_boxed"}


def test_unwrapping_stops_at_partial_wrappers_and_stays_fast() -> None:
    assert unwrap_text("\\textbf{\\mathrm{B}}") == "B"
    assert unwrap_text("\\text{A}, \\text{B}") == "\\text{A}, \\text{B}"
    assert unwrap_text("12\\text{ cm}") == "12\\text{ cm}"
    assert leading_letter("\\text{(C)} because") is None and leading_letter("\\text{C}") == "C"
    assert extract_answer("It has four sides.\n\\textbf{B}").rule == "choice_letter"
    assert unwrap_text("\\text{" * 10_000 + "}" * 10_000).startswith("\\text{")
