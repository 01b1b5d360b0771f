"""Reward-hacking guards: each hack is caught by its predicate and gets reward 0; honest answers pass."""

import pytest

from rethinker.data.schema import Example
from rethinker.rewards.guards import (
    copies_question,
    has_several_boxed,
    has_several_parts,
    is_empty,
    is_hedge,
    triggered_guard,
)
from rethinker.rewards.registry import get_reward_fn
from rethinker.rewards.verify import Verifier

SIMPLIFY = Example(id="s", question="Expand and simplify (x + 1)^2 - (x - 1)^2 + 4x^2 - 4x.", answer="4x^2")
ROOTS = Example(id="r", question="Solve x^2 - 5x + 6 = 0.", answer="2, 3")
SINGLE = Example(id="n", question="What is 1 + 1?", answer="2")
CHOICE = Example(
    id="c", question="Which shape? Choices: (A) a circle (B) a square", answer="B", choices=("circle", "square")
)


@pytest.mark.parametrize(
    ("response", "example", "guard"),
    [
        ("\\boxed{}", SINGLE, "empty"),
        ("<answer> $ $ </answer>", SINGLE, "empty"),
        ("I cannot tell.", SINGLE, "empty"),
        ("The answer is 2 or 3.", SINGLE, "hedge"),
        ("\\boxed{A or B}", CHOICE, "hedge"),
        ("Answer: A, B", CHOICE, "hedge"),
        ("\\boxed{2}, \\boxed{3}", SINGLE, "several_boxed"),
        ("\\boxed{2}\n\\boxed{5}", SINGLE, "several_boxed"),
        ("\\boxed{(x + 1)^2 - (x - 1)^2 + 4x^2 - 4x}", SIMPLIFY, "copied_question"),
    ],
)
def test_each_hack_gets_reward_zero(verifier: Verifier, response: str, example: Example, guard: str) -> None:
    result = get_reward_fn("accuracy")(response, example, verifier)
    assert result.info["guard"] == guard
    assert result.reward == 0.0 and not result.correct


def test_the_copied_expression_would_otherwise_verify(verifier: Verifier) -> None:
    assert verifier.verify("4x^2", "(x + 1)^2 - (x - 1)^2 + 4x^2 - 4x")


@pytest.mark.parametrize(
    ("response", "example"),
    [
        ("\\boxed{4x^2}", SIMPLIFY),
        ("The roots are \\boxed{2}, \\boxed{3}", ROOTS),
        ("x = 2 or x = 3, so \\boxed{2, 3}", ROOTS),
        ("First \\boxed{3}.\n\nWait, there might be a mistake: 1 + 1 is \\boxed{2}.", SINGLE),
        ("\\boxed{B}", CHOICE),
        ("The answer is square", CHOICE),
    ],
)
def test_honest_answers_pass_the_guards(verifier: Verifier, response: str, example: Example) -> None:
    result = get_reward_fn("accuracy")(response, example, verifier)
    assert result.info["guard"] is None
    assert result.reward == 1.0 and result.correct


def test_predicates() -> None:
    assert is_empty(None) and is_empty(" .\\quad ") and not is_empty("0")
    assert has_several_parts("1, 2") and has_several_parts("\\boxed{1}, \\boxed{2}") and has_several_parts("1 or 2")
    assert not has_several_parts("(1, 2)") and not has_several_parts("[2014, 2016]")
    assert is_hedge("either 4 or 5", "4") and is_hedge("(A)/(C)", "A") and not is_hedge("x = 2 or x = 3", "2, 3")
    assert not is_hedge("B. A triangle", "B") and not is_hedge("color", "red")
    assert has_several_boxed("\\boxed{1} and \\boxed{2}", "1") and not has_several_boxed("\\boxed{1} \\boxed{1}", "1")
    question = "Find the value of 12345 + 67890 - 80235."
    assert copies_question("12345 + 67890 - 80235", question, ["0"])
    assert not copies_question("12345", question, ["0"])
    assert not copies_question("12345+67890-80235", question, ["12345 + 67890 - 80235"])


def test_option_text_with_or_is_not_a_hedge(verifier: Verifier) -> None:
    example = Example(id="o", question="Does it grow?", answer="A", choices=("grows or stays", "shrinks"))
    assert triggered_guard("Answer: grows or stays", "grows or stays", example) is None
    assert get_reward_fn("accuracy")("Answer: grows or stays", example, verifier).correct
