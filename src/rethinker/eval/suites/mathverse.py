"""MathVerse testmini: loading, the official queries, a rule-based judge in place of GPT, per-version scores.

Data: `testmini.json` / `testmini_text_only.json` from the MathVerse repository (image paths relative to the folder
holding the images) or the HF `AI4Math/MathVerse` parquet files (embedded images). Columns: `sample_index`,
`problem_index`, `problem_version` (Text Dominant, Text Lite, Vision Intensive, Vision Dominant, Vision Only, Text
Only), `question`, `image`, `answer`, `question_type` ("multi-choice" | "free-form"), `metadata` (split, source,
subject, subfield), `query_wo`, `query_cot`, optionally `question_for_eval`. Example ids are the `sample_index`,
prefixed "text-only-" for Text Only rows, whose indices repeat those of the main file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import (
    MAX_ANSWER_CHARS,
    explicit_answer,
    final_text,
    latex_equivalent,
    parse_number,
)
from rethinker.eval.suites._choice import answer_letters, leading_letter
from rethinker.eval.suites._reading import chosen_letter
from rethinker.eval.suites._source import SourceRow, image_source, read_rows
from rethinker.eval.suites._tally import accuracy, accuracy_by, pair_up, rule_counts
from rethinker.eval.suites._text import clean_candidate
from rethinker.eval.suites.base import ScoredSample
from rethinker.models.prompts import resolve_template

MULTIPLE_CHOICE = "multi-choice"
TEXT_ONLY = "Text Only"
QUERIES = ("query_cot", "query_wo")
PROSE_RULES = ("last_paragraph", "last_line")
"""Rules that took the answer from closing prose, where the option a response picks is read as a person would."""
LETTERS = tuple("ABCDEFGH")
_CHOICE_LINE = re.compile(r"^\s*\(?([A-H])\)?\s*[:：.]\s*(.+?)\s*$", re.MULTILINE)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|掳|\bdegrees?\b")
_DELIMITERS = re.compile(r"\$|\\[\[\]()]")
_UNIT_TAIL = re.compile(
    r"(?:\\(?:mathrm|text)\s*\{[~\s]*[a-zA-Z]+\s*\}|\b(?:square\s+)?(?:cm|mm|km|m|units?|metres|meters|inches|feet|ft|in)\b)"
    r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_SPACING = re.compile(r"\\[,;:!]|\\left|\\right|~|\s+")


def choices_in(question: str) -> tuple[str, ...]:
    """The option texts written after "Choices:" in a MathVerse question ("A:40°" lines), in letter order."""
    position = question.find("Choices:")
    if position < 0:
        return ()
    return tuple(text for _, text in _CHOICE_LINE.findall(question[position + len("Choices:") :]))


def normalize_free_form(answer: str) -> str:
    """A free-form answer reduced for comparison: no `$` or `\\[ \\]`, no "Area =" style left side, no units or
    degree marks, no final full stop, no spacing, lower-cased."""
    text = _DELIMITERS.sub("", answer).strip().removesuffix(".").strip()
    if "=" in text:
        left, right = text.rsplit("=", 1)
        if not any(char.isdigit() for char in left):
            text = right
    text = _DEGREES.sub("", text)
    unitless = _UNIT_TAIL.sub("", text.strip())
    if any(char.isdigit() for char in unitless):
        text = unitless
    return _SPACING.sub("", text).lower()


def _decimals(number_text: str) -> int:
    return len(number_text.split(".", 1)[1]) if "." in number_text else 0


def free_form_match(gold: str, predicted: str) -> tuple[bool, str]:
    """Whether a predicted free-form answer matches the gold one, and by which rule (`string`, `number`, `math`).

    Numbers match when equal, or, for a gold given with decimals, when the prediction rounded to those places equals
    it (14.32 for 14.3246); expressions match by `math-verify`. Units are dropped, not converted (0.5 m is not 50 cm).
    """
    gold_text, predicted_text = normalize_free_form(gold), normalize_free_form(predicted)
    if not predicted_text:
        return False, "empty"
    if gold_text == predicted_text:
        return True, "string"
    gold_number, predicted_number = parse_number(gold_text), parse_number(predicted_text)
    if gold_number is not None and predicted_number is not None:
        close = abs(gold_number - predicted_number) <= 1e-6 * max(1.0, abs(gold_number))
        places = _decimals(gold_text)
        return close or (places > 0 and round(predicted_number, places) == gold_number), "number"
    return latex_equivalent(gold_text, predicted_text), "math"


def choice_match(gold: str, predicted: str, choices: Sequence[str]) -> tuple[bool, str] | None:
    """The verdict on a multiple-choice answer whose gold is one or more letters; None when the gold is not letters.

    The predicted letters must be exactly the gold letters ("A or B" never matches "A"); a prediction that is the
    text of the gold option (the only gold letter) also matches, as in the official judge's examples.
    """
    gold_letters = answer_letters(gold, LETTERS)
    if gold_letters is None:
        return None
    named = answer_letters(predicted, LETTERS)
    if named is not None:
        return named == gold_letters, "letters"
    first = leading_letter(predicted, LETTERS)
    if first is not None:
        return frozenset({first}) == gold_letters, "leading_letter"
    if len(gold_letters) == 1 and choices:
        index = LETTERS.index(next(iter(gold_letters)))
        if index < len(choices):
            return free_form_match(choices[index], predicted)[0], "option_text"
    return False, "no_letter"


class MathVerseBenchmark:
    """MathVerse with its official `query_cot` (or `query_wo`) prompts and a rule-based judge."""

    NAME = "mathverse"
    EXTRACTION_NOTE = (
        "Rule-based replacement of the official two-step GPT judge (extract, then judge consistency). After dropping "
        "any <think> block, the answer is the last \\boxed{}, <answer> tags, or an 'answer is' / 'Answer:' / '答案' "
        "phrase (or the line after one that ends its line), else, for multiple choice, the option the response picks "
        "(a 'B) ...' line, 'option B', a choice's text or value in the closing sentences), else the last paragraph "
        "(its last line when long). Multiple choice with letter gold: the named letters must "
        "equal the gold letters (the text of the gold option also counts). Free form (and non-letter gold): equal "
        "after removing $, a word-only left side ('Area ='), units and degree marks; or equal numbers (rounded to the "
        "gold's decimals when it has some); or equal expressions by math-verify. Units are not converted."
    )

    def __init__(self, query: str = "query_cot") -> None:
        if query not in QUERIES:
            raise ValueError(f"unknown MathVerse query {query!r}; expected one of {QUERIES}")
        self.query = query

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MathVerse rows (testmini JSON with image paths, parquet with embedded images, or a dataset folder)."""
        return [self.example(row) for row in read_rows(Path(path), limit)]

    def example(self, row: SourceRow) -> Example:
        """One MathVerse row as an example; its one image (none for Text Only) goes before the text."""
        meta = row.fields.get("metadata") or {}
        question = row.text("question")
        question_type = row.text("question_type")
        image = image_source(row, "image")
        version = row.text("problem_version")
        sample_index = str(row.require("sample_index"))
        return Example(
            id=f"text-only-{sample_index}" if version == TEXT_ONLY else sample_index,
            question=question,
            answer=str(row.require("answer")).strip(),
            images=(image,) if image is not None else (),
            choices=choices_in(question) if question_type == MULTIPLE_CHOICE else (),
            metadata={
                "problem_index": row.text("problem_index"),
                "problem_version": version,
                "question_type": question_type,
                "subject": str(meta.get("subject", "")),
                "subfield": str(meta.get("subfield", "")),
                "source_dataset": str(meta.get("source", "")),
                "query_cot": row.text("query_cot"),
                "query_wo": row.text("query_wo"),
                "question_for_eval": row.text("question_for_eval", question),
                "source": row.where(),
            },
        )

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official query (`query_cot` by default), or a named/user template filled with the question text."""
        official = str(example.metadata.get(self.query) or example.question)
        if template is None:
            return official
        return resolve_template(template).format(question=example.question.strip() or official)

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response with the rule-based judge described in `EXTRACTION_NOTE`."""
        found = self.extract(response)
        if found is None:
            return ScoredSample(example.id, response, None, "no_answer", 0.0)
        answer, rule = found
        verdict = None
        if example.metadata.get("question_type") == MULTIPLE_CHOICE and rule in PROSE_RULES and example.choices:
            if answer_letters(answer, LETTERS) is None and leading_letter(answer, LETTERS) is None:
                answer, rule = chosen_letter(final_text(response), example.choices, example.question) or found
        if example.metadata.get("question_type") == MULTIPLE_CHOICE:
            verdict = choice_match(example.answer, answer, example.choices)
        if verdict is None:
            verdict = free_form_match(example.answer, answer)
        correct, match_rule = verdict
        return ScoredSample(example.id, response, answer, rule, float(correct), {"match": match_rule})

    @staticmethod
    def extract(response: str) -> tuple[str, str] | None:
        """The answer of a response and its rule: the shared explicit rules, else its last paragraph (or line)."""
        text = final_text(response).strip()
        found = explicit_answer(text)
        if found is not None or not text:
            return found
        paragraph = text.split("\n\n")[-1].strip()
        if len(paragraph) <= MAX_ANSWER_CHARS:
            return clean_candidate(paragraph), "last_paragraph"
        return clean_candidate(paragraph.splitlines()[-1][-MAX_ANSWER_CHARS:]), "last_line"

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Accuracy per problem version, the official overall (the five main versions, Text Only apart), and per
        subject and subfield."""
        pairs = pair_up(examples, scored)
        main = [pair for pair in pairs if pair[0].metadata["problem_version"] != TEXT_ONLY]
        return {
            "benchmark": self.NAME,
            "overall": accuracy(sample.score for _, sample in (main or pairs)),
            "overall_scope": "five main versions" if main else "all loaded samples",
            "by_version": accuracy_by(pairs, lambda example: [example.metadata["problem_version"]]),
            "by_subject": accuracy_by(pairs, lambda example: [example.metadata["subject"]]),
            "by_subfield": accuracy_by(
                pairs, lambda example: [f"{example.metadata['subject']}/{example.metadata['subfield']}"]
            ),
            "by_question_type": accuracy_by(pairs, lambda example: [example.metadata["question_type"]]),
            "rules": rule_counts(pairs),
        }


BENCHMARK = MathVerseBenchmark()
