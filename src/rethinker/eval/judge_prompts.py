"""Answer-extraction prompts for an LLM judge (data, not code): an instruction and worked examples per benchmark.

In the spirit of MathVista's and MathVerse's official GPT extraction step (an instruction, a few solved examples, then
"Extracted answer:"), written for this project: the judge only copies the final answer a response states; the
benchmark's own rules then compare it with the gold answer.
"""

from __future__ import annotations

from typing import NamedTuple

INSTRUCTION = (
    "You read a model's response to a problem and report the final answer the response gives.\n"
    "- Copy the answer as the response states it. Do not solve the problem and do not correct the response.\n"
    "- Multiple choice: reply with the letter of the option the response chose (if it names the option's text, "
    "reply with that option's letter).\n"
    "- Numbers: reply with the number only, without units; keep the precision the response gives.\n"
    "- Several values: reply with a list such as [1, 2].\n"
    "- Formulas: reply in LaTeX, without surrounding $ signs.\n"
    "- If the response gives no final answer, reply with: none\n"
    "Reply with the answer alone, on one line."
)


class WorkedExample(NamedTuple):
    """One solved extraction: the question, a response, and the answer the judge should reply with."""

    question: str
    response: str
    answer: str


COMMON_EXAMPLES = (
    WorkedExample(
        "Which shape has the largest area?\nChoices:\n(A) circle\n(B) square\n(C) triangle\n(D) hexagon",
        "Counting grid cells, the circle covers about 12, the square 16, the triangle 8 and the hexagon 14. "
        "The square is the largest.",
        "B",
    ),
    WorkedExample(
        "What is the perimeter of the triangle?",
        "The side lengths in the picture are too blurry for me to read.",
        "none",
    ),
)

MATHVISTA_EXAMPLES = (
    WorkedExample(
        "Hint: Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, at "
        "the end.\nQuestion: How many red blocks are left after two of them are taken away?",
        "I count 7 red blocks. Taking 2 away leaves 7 - 2 = 5.\nSo there are five red blocks left.",
        "5",
    ),
    WorkedExample(
        "Hint: Please answer the question requiring a floating-point number with two decimal places and provide the "
        "final value, e.g., 1.23, 1.34, 1.45, at the end.\nQuestion: What is the slope of the line through the two "
        "marked points?",
        "The marked points are (1, 2) and (5, 3.3). Slope = (3.3 - 2) / (5 - 1) = 0.325, about 0.33.",
        "0.33",
    ),
    WorkedExample(
        "Hint: Please answer the question requiring a Python list as an answer and provide the final list, e.g., "
        "[1, 2, 3], [1.2, 1.3, 1.4], at the end.\nQuestion: At which x values does the curve cross the x-axis?",
        "The curve meets the axis first at x = -2 and then again at x = 3.",
        "[-2, 3]",
    ),
)

MATHVERSE_EXAMPLES = (
    WorkedExample(
        "In the right triangle shown, the hypotenuse is 1 and one angle is 60 degrees. Find the side opposite the "
        "60-degree angle.",
        "The opposite side is sin 60° times the hypotenuse, that is \\sqrt{3}/2.\nAnswer: $\\frac{\\sqrt{3}}{2}$",
        "\\frac{\\sqrt{3}}{2}",
    ),
    WorkedExample(
        "The line in the figure passes through (0, 1) and (1, 3). What is its equation?",
        "The slope is (3 - 1)/(1 - 0) = 2 and the intercept is 1, so the line is y = 2x + 1.",
        "y=2x+1",
    ),
    WorkedExample(
        "As shown, AB is parallel to CD and angle 1 is 35 degrees. What is angle 2?\nChoices:\nA: 35°\nB: 55°\n"
        "C: 145°\nD: 125°",
        "Angle 2 and angle 1 are supplementary, so angle 2 = 180° - 35° = 145°.",
        "C",
    ),
)

BENCHMARK_EXAMPLES: dict[str, tuple[WorkedExample, ...]] = {
    "mathvista": MATHVISTA_EXAMPLES + COMMON_EXAMPLES,
    "mathverse": MATHVERSE_EXAMPLES + COMMON_EXAMPLES,
}
"""Worked examples by benchmark; the others use the MathVerse-style set (free-form math and multiple choice)."""

MAX_JUDGED_RESPONSE_CHARS = 8_000
"""Only the end of a longer response is shown to the judge: the final answer is there, and the request stays small."""


def examples_for(benchmark: str) -> tuple[WorkedExample, ...]:
    """The worked examples shown for `benchmark`."""
    return BENCHMARK_EXAMPLES.get(benchmark, MATHVERSE_EXAMPLES + COMMON_EXAMPLES)


def _block(question: str, response: str) -> str:
    """One problem as the judge reads it."""
    return f"Question: {question}\n\nModel response: {response}\n\nExtracted answer:"


def extraction_messages(benchmark: str, question: str, response: str) -> list[dict[str, str]]:
    """The chat messages asking the judge for the final answer of `response` (its last 8,000 characters)."""
    if len(response) > MAX_JUDGED_RESPONSE_CHARS:
        response = "..." + response[-MAX_JUDGED_RESPONSE_CHARS:]
    shown = "\n\n---\n\n".join(f"{_block(ex.question, ex.response)} {ex.answer}" for ex in examples_for(benchmark))
    task = f"{INSTRUCTION}\n\nExamples:\n\n{shown}\n\n---\n\nNow the problem to read:\n\n{_block(question, response)}"
    return [{"role": "user", "content": task}]
