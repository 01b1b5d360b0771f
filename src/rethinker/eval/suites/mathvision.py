"""MATH-Vision (MATH-V, test 3040 / testmini 304): loading, the official query, and the official rule-based scoring.

Scoring follows `evaluation/evaluate.py` and `evaluation/utils.py` of mathllm/MATH-V: the answer is extracted from the
raw response by its rules (`mathvision_extract`; an `<answer>` block or the text after a `<think>` block stands for
the response where there is one), then compared with the gold answer and, for multiple choice, with
the gold option's text (`mathvision_compare`): equal text, equal tuples, or equal values rounded to 2 decimals
(`mathvision_numeric`, which parses LaTeX without `eval` and bounds every evaluation in a worker process).
The results mirror the official result file: overall, per level, per subject and per level-subject.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites import mathvision_data
from rethinker.eval.suites._text import answer_tag, strip_think
from rethinker.eval.suites.base import ScoredSample
from rethinker.eval.suites.mathvision_compare import answers_match
from rethinker.eval.suites.mathvision_extract import extract_answer, leading_expression
from rethinker.eval.suites.mathvision_numeric import BoundedLatexNumbers

NAME = "mathvision"
EXTRACTION_NOTE = (
    "MATH-V's official scorer is rule-based and re-implemented here: its extraction reproduces the official "
    "model_answer of all 3040 Gemini-Pro test responses, and its verdicts the official ones on all 3040. LaTeX is "
    "parsed by latex2sympy2_extended (antlr 4.13, shared with math-verify) instead of latex2sympy2 and evaluated by "
    "sympy instead of eval; each evaluation is bounded (1000 characters, 2 s, 2 GiB, in a worker process), and a "
    "response over 200000 characters scores 0. Two additions: the rules read the <answer> block, or the text after a "
    "<think> block, where a response has one; and an answer whose cleaned text equals the cleaned gold answer also "
    "counts (the official rules cannot match 2 test golds, e.g. a value in degrees)."
)
MAX_RESPONSE_CHARS = 200_000
TOO_LONG_RULE = "too_long"

LATEX_NUMBERS = BoundedLatexNumbers()
"""The shared bounded evaluator (its worker starts on first use and stops at exit)."""
atexit.register(LATEX_NUMBERS.close)


def gold_option_text(example: Example) -> str:
    """The text of the gold option of a multiple-choice problem (also accepted as an answer), else ""."""
    letters = mathvision_data.OPTION_LETTERS[: len(example.choices)]
    if len(example.answer) == 1 and example.answer in letters:
        return example.choices[letters.index(example.answer)]
    return ""


def _matched_by(answer: str, example: Example) -> str | None:
    """Which rule accepts `answer`: "official" (gold or gold option text), "cleaned_gold", "leading_expression" (the
    well-formed expression the answer starts with, without trailing text or wrapping braces), or None (wrong)."""
    if answers_match(example.answer, answer, LATEX_NUMBERS) or answers_match(
        gold_option_text(example), answer, LATEX_NUMBERS
    ):
        return "official"
    if answer and answer == extract_answer(example.answer).answer:
        return "cleaned_gold"
    leading = leading_expression(answer)
    if leading != answer and _matched_by(leading, example) is not None:
        return "leading_expression"
    return None


def answer_region(response: str) -> tuple[str, str]:
    """The text the official rules read: the `<answer>` block, else what follows `<think>...</think>`, else all."""
    visible = strip_think(response)
    tagged = answer_tag(visible)
    if tagged is not None:
        return tagged, "answer_tag"
    return visible, "whole" if visible == response else "after_think"


def score(response: str, example: Example) -> ScoredSample:
    """Score one raw response with the official MATH-V rules (1.0 correct, 0.0 wrong)."""
    details: dict[str, Any] = {"gold": example.answer, "gold_option": gold_option_text(example)}
    if len(response) > MAX_RESPONSE_CHARS:
        return ScoredSample(example.id, response, None, TOO_LONG_RULE, 0.0, {**details, "matched_by": None})
    region, details["region"] = answer_region(response)
    extraction = extract_answer(region)
    matched_by = _matched_by(extraction.answer, example)
    return ScoredSample(
        example.id,
        response,
        extraction.answer,
        extraction.rule,
        1.0 if matched_by else 0.0,
        {**details, "matched_by": matched_by},
    )


OFFICIAL_KEY_PREFIX = {"overall": "-", "level": "-", "subject": "", "subject_level": "", "level_subject": "-"}
BREAKDOWNS = ("level", "subject", "level_subject")
"""How the official result file spells each group: "-all", "-level1", "algebra", "algebra_level1", "-level1_algebra"."""


def _tallies(examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[tuple[str, str], list[int]]:
    """[correct, total] per (breakdown, group) for the five official breakdowns."""
    by_id = {example.id: example for example in examples}
    counts: dict[tuple[str, str], list[int]] = {}
    for sample in scored:
        if sample.id not in by_id:
            raise KeyError(f"scored sample {sample.id!r} has no example")
        level, subject = by_id[sample.id].metadata["level"], by_id[sample.id].metadata["subject"]
        groups = (
            ("overall", "all"),
            ("level", f"level{level}"),
            ("subject", str(subject)),
            ("subject_level", f"{subject}_level{level}"),
            ("level_subject", f"level{level}_{subject}"),
        )
        for group in groups:
            tally = counts.setdefault(group, [0, 0])
            tally[0] += sample.score > 0
            tally[1] += 1
    return counts


def _percent(correct: int, total: int) -> float:
    return round(correct / total * 100, 2) if total else 0.0


def aggregate(examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
    """Accuracy (percent) overall, per level, subject and level-subject, plus the official result table verbatim."""
    counts = _tallies(examples, scored)
    rows = {
        group: {"accuracy": _percent(correct, total), "correct": correct, "total": total}
        for group, (correct, total) in sorted(counts.items())
    }
    results: dict[str, Any] = {"overall": rows.get(("overall", "all"), {"accuracy": 0.0, "correct": 0, "total": 0})}
    for kind in BREAKDOWNS:
        results[kind] = {name: row for (group, name), row in rows.items() if group == kind}
    results["official"] = {
        OFFICIAL_KEY_PREFIX[kind] + name: f"{row['correct']}/{row['total']}={row['accuracy']}%"
        for (kind, name), row in sorted(rows.items(), key=lambda item: OFFICIAL_KEY_PREFIX[item[0][0]] + item[0][1])
    }
    return results


class MathVision:
    """The MATH-V benchmark module as a `Benchmark` object."""

    NAME = NAME
    EXTRACTION_NOTE = EXTRACTION_NOTE

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MATH-V problems (see `mathvision_data.load`)."""
        return mathvision_data.load(path, limit)

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official query or a filled template (see `mathvision_data.build_prompt`)."""
        return mathvision_data.build_prompt(example, template)

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response with the official rules (see module `score`)."""
        return score(response, example)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """The official breakdown (see module `aggregate`)."""
        return aggregate(examples, scored)

    def oracle_response(self, example: Example) -> str:
        """The gold answer itself as a response, for the oracle self-test."""
        return example.answer


BENCHMARK = MathVision()
