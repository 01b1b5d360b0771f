"""MM-Math (Vision-R1's headline benchmark): open-ended middle-school geometry and function problems with images.

Scoring follows the official outcome evaluation (kge-sun/MM-Math `eval.py`, `AutoScoringJudge`): the gold answer is
every `\\boxed{}` of the reference solution, the model's answer every `\\boxed{}` of its response (no box: wrong);
both drop units and LaTeX spacing; equal strings match; otherwise both are split at top-level commas (`\\pm` gives
both signs) and each gold part must pair with a predicted part that is equal as text, as a number within 1e-2 (the
official command-line default, a percentage read either way), or as an expression. The official expression check
(sympy `parse_latex`, unbounded in time) is replaced by the project's time-bounded math-verify check, with values
rounded to 2 decimals (`benchmarks/mmmath/check_official.py` compares both on hand-made cases).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import MAX_ANSWER_CHARS, final_text, latex_equivalent, parse_number
from rethinker.eval.suites._source import BenchmarkDataError, SourceRow, image_source, read_rows
from rethinker.eval.suites._tally import accuracy, accuracy_by, pair_up, rule_counts
from rethinker.eval.suites.base import ScoredSample
from rethinker.models.prompts import resolve_template

NAME = "mmmath"
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PRECISION = 1e-2
EXPRESSION_DECIMALS = 2
"""Expressions are compared with values rounded to 2 decimals, as the official 1e-2 tolerance compares them."""
BOX_OPENING = "\\boxed{"
UNITS = (
    "\\text{cm}^2",
    "\\text{cm}",
    "\\,cm",
    "\\text{ cm}",
    "cm^{2}",
    "cm",
    "\\text{分米}^2",
    "\\ \\text{m}",
    "\\text{米}",
)
SYMBOLS = {
    "\\left": "",
    "\\right": "",
    "厘米": "",
    "，": ",",
    "$": "",
    "（": "(",
    "）": ")",
    "\\infty": "oo",
    "\\colon ": ":",
    "＋": "+",
    "\\, ": "",
    "\\,": "",
    "^\\circ": "",
    "^{\\circ}": "",
}
EDGE_CHARACTERS = "\n,.:;^_=+`!@#%^&*~，。"
CHINESE = re.compile(r"[\u4e00-\u9fff]+")
TRIG_DEGREES = re.compile(r"(\\sin|\\cos|\\tan)(\d+)")
BOLD_OR_ROMAN = re.compile(r"\\(?:mathrm|mathbf)\{~?([^}]*)\}")
DIFFICULTY = {"容易": "easy", "普通": "medium", "困难": "hard"}
GRADES = {"七": "seven", "八": "eight", "九": "nine"}
KNOWLEDGE = ("Functions", "Transformations of Shapes", "Properties of Shapes")


def boxed_contents(text: str) -> list[str]:
    """The content of every brace-balanced `\\boxed{...}` in `text`, in order (an unclosed one is left out)."""
    contents = []
    start = text.find(BOX_OPENING)
    while start >= 0:
        position = start + len(BOX_OPENING)
        depth = 1
        for index in range(position, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                contents.append(text[position:index])
                break
        start = text.find(BOX_OPENING, position)
    return contents


def clean(expression: str) -> str:
    """The official symbol replacement: units, LaTeX spacing and delimiters dropped, trailing punctuation stripped."""
    for unit in UNITS:
        expression = expression.replace(unit, "")
    expression = re.sub(r"(.+)m$", r"\1", expression.strip())
    if "\\in " in expression:
        expression = expression.split("\\in ", 1)[1]
    for symbol, replacement in SYMBOLS.items():
        expression = expression.replace(symbol, replacement)
    expression = TRIG_DEGREES.sub(r"\1((\2/180)\\pi)", expression)
    return BOLD_OR_ROMAN.sub(r"\1", expression.strip(EDGE_CHARACTERS))


def split_top_level(expression: str) -> list[str]:
    """Split at commas outside brackets; each `\\pm` part becomes its `+` and `-` versions."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(expression):
        depth += 1 if char in "([" else -1 if char in ")]" else 0
        if char == "," and depth == 0:
            parts.append(expression[start:index].strip())
            start = index + 1
    parts.append(expression[start:].strip())
    signed = []
    for part in (part for part in parts if part):
        signed.extend([part.replace("\\pm", "+"), part.replace("\\pm", "-")] if "\\pm" in part else [part])
    return signed


def numbers_equal(gold: str, predicted: str) -> bool:
    """Equal as plain numbers within the official precision, the gold also read as a percentage either way."""
    reference, value = parse_number(gold), parse_number(predicted)
    if reference is None or value is None:
        return False
    return any(
        abs(candidate - value) <= PRECISION * 1.01 for candidate in (reference / 100, reference, reference * 100)
    )


def right_side(expression: str) -> str:
    """The part after the first `=` (the official expression check compares values, not `x = ...`)."""
    return expression.split("=", 1)[1].strip() if "=" in expression else expression


def parts_equal(gold: str, predicted: str) -> bool:
    """One gold part against one predicted part: text, number, then (time-bounded) expression or equation."""
    if gold == predicted and gold:
        return True
    if numbers_equal(right_side(gold), right_side(predicted)):
        return True
    if "=" in gold and "=" in predicted:
        return latex_equivalent(gold, predicted, EXPRESSION_DECIMALS)
    return latex_equivalent(right_side(gold), right_side(predicted), EXPRESSION_DECIMALS)


def answers_match(gold: str, predicted: str) -> bool:
    """The official judge on cleaned answers: equal strings, else every gold part paired with a predicted part."""
    if gold == predicted:
        return True
    gold = gold if CHINESE.fullmatch(gold) else CHINESE.sub("", gold)
    predicted = predicted if CHINESE.fullmatch(predicted) else CHINESE.sub("", predicted)
    golds, predictions = split_top_level(gold), split_top_level(predicted)
    if len(golds) != len(predictions) or len(golds) > MAX_ANSWER_CHARS:
        return False
    for part in golds:
        match = next((candidate for candidate in predictions if parts_equal(part, candidate)), None)
        if match is None:
            return False
        predictions.remove(match)
    return True


def joined_answer(text: str) -> str | None:
    """Every boxed answer of a text joined by commas and cleaned, or None when it has no box."""
    contents = boxed_contents(text)
    return clean(",".join(contents)) if contents else None


def score(response: str, example: Example) -> ScoredSample:
    """Score one response: its boxed answers against the reference solution's, by the official judge."""
    predicted = joined_answer(final_text(response))
    if predicted is None:
        return ScoredSample(example.id, response, None, "no_box", 0.0)
    extracted = predicted[:MAX_ANSWER_CHARS]
    correct = len(predicted) <= MAX_ANSWER_CHARS and answers_match(example.answer, predicted)
    return ScoredSample(example.id, response, extracted, "boxed", float(correct))


def _knowledge(row: SourceRow) -> list[str]:
    """The knowledge points of a row (a list, or text naming them)."""
    value = row.fields.get("knowledge") or []
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return [point for point in KNOWLEDGE if point in text]


def example_of(row: SourceRow) -> Example:
    """One MM-Math row: the question, its image (`file_name`), the boxed answers of its solution as the gold."""
    solution = row.text("solution")
    answer = joined_answer(solution)
    if answer is None:
        raise BenchmarkDataError(f"{row.where('solution')}: the reference solution has no \\boxed{{}} answer")
    file_name = row.text("file_name")
    image = image_source(row, "file_name")
    year = row.text("year")
    return Example(
        id=str(row.fields.get("id") or Path(file_name).stem or row.index),
        question=str(row.require("question")),
        answer=answer,
        images=(image,) if image is not None else (),
        metadata={
            "solution": solution,
            "difficulty": DIFFICULTY.get(row.text("difficult"), row.text("difficult")),
            "grade": next((grade for mark, grade in GRADES.items() if mark in year), year),
            "knowledge": _knowledge(row),
            "source": row.where(),
        },
    )


def load(path: Path, limit: int | None = None) -> list[Example]:
    """Read MM-Math rows (the published JSON keyed by index, a JSON list or JSONL), images beside or in `images/`."""
    return [example_of(row) for row in read_rows(Path(path), limit)]


def build_prompt(example: Example, template: str | None = None) -> str:
    """The question with the instruction to box the final answer, or a named/user template."""
    if template is None:
        return f"{example.question}\n{INSTRUCTION}"
    return resolve_template(template).format(question=example.question)


def aggregate(examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
    """Overall accuracy and the official breakdowns: difficulty, grade and the three knowledge areas."""
    pairs = pair_up(examples, scored)
    return {
        "overall": accuracy(sample.score for _, sample in pairs),
        "difficulty": accuracy_by(pairs, lambda example: [example.metadata["difficulty"]]),
        "grade": accuracy_by(pairs, lambda example: [example.metadata["grade"]]),
        "knowledge": accuracy_by(pairs, lambda example: example.metadata["knowledge"]),
        "rules": rule_counts(pairs),
    }


class MMMath:
    """The benchmark object the registry hands out."""

    NAME = NAME
    EXTRACTION_NOTE = (
        "Rule-based, as the official outcome evaluation: every \\boxed{} of the response (none: wrong) against every "
        "\\boxed{} of the reference solution, units dropped, parts paired by text, number (within 1e-2) or "
        "expression (math-verify with a time limit and values rounded to 2 decimals, in place of the official sympy "
        "parse_latex with a 1e-2 tolerance). On 54 hand-made cases the official judge agrees on 52."
    )

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read the problems."""
        return load(path, limit)

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The prompt."""
        return build_prompt(example, template)

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response."""
        return score(response, example)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """The official breakdowns."""
        return aggregate(examples, scored)

    def oracle_response(self, example: Example) -> str:
        """The gold answers, each boxed, as a model following the instruction writes them."""
        boxes = ", ".join(f"\\boxed{{{part}}}" for part in boxed_contents(example.metadata["solution"]))
        return f"So the answer is {boxes}."


BENCHMARK = MMMath()
