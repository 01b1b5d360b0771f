"""MMMU (validation): loading the published files, the official prompt, and the official rule-based scoring.

Data: the HF `MMMU/MMMU` parquet files (one folder per subject, `validation-*.parquet`), or JSON/JSONL with the same
columns: `id` ("validation_Art_Theory_3"), `question` with `<image 1>` tags, `options` (a Python-list string),
`answer` (a letter, a string, or a list literal of accepted strings), `image_1..image_7`, `question_type`
("multiple-choice" | "open"), `subfield`, `topic_difficulty`, `img_type`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import explicit_answer, final_text
from rethinker.eval.suites._choice import option_letters, read_letter
from rethinker.eval.suites._source import (
    SourceRow,
    literal_list,
    number_placeholders,
    numbered_images,
    present_images,
    read_rows,
)
from rethinker.eval.suites._tally import accuracy, accuracy_by, pair_up, rule_counts
from rethinker.eval.suites.base import ScoredSample
from rethinker.models.prompts import resolve_template

MAX_IMAGES = 7
TAG = re.compile(r"<image (\d+)>")
MULTIPLE_CHOICE = "multiple-choice"
CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."

DISCIPLINES: dict[str, tuple[str, ...]] = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": (
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    ),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": (
        "Agriculture",
        "Architecture_and_Engineering",
        "Computer_Science",
        "Electronics",
        "Energy_and_Power",
        "Materials",
        "Mechanical_Engineering",
    ),
}
DISCIPLINE_OF = {subject: discipline for discipline, subjects in DISCIPLINES.items() for subject in subjects}

_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL_KEYS = {":", ",", ".", "!", "?", ";", "'"}
_SENTENCE_SPLIT = re.compile(r"\.\s(?=[A-Z])|\n")
_NUMBER_WITH_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUMBER_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")

OpenValue = str | float


def subject_of(example_id: str) -> str:
    """The subject inside an MMMU id: "validation_Art_Theory_3" -> "Art_Theory"."""
    return "_".join(example_id.split("_")[1:-1])


def options_block(options: Sequence[str]) -> str:
    """The official option listing: one "(A) text" line per option."""
    return "".join(
        f"({letter}) {option}\n" for letter, option in zip(option_letters(len(options)), options, strict=True)
    )


def extract_numbers(text: str) -> list[str]:
    """Every number in a text as the official rules find them: with thousands commas, scientific, then plain."""
    return _NUMBER_WITH_COMMAS.findall(text) + _NUMBER_SCIENTIFIC.findall(text) + _NUMBER_SIMPLE.findall(text)


def normalize_open(text: str) -> list[OpenValue]:
    """The official normalisation: a number becomes a float rounded to 2 decimals; other text is lower-cased, and a
    single character is padded with a space on either side (two forms) so that it cannot match inside a word."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        lowered = text.lower()
        return [f" {lowered}", f"{lowered} "] if len(lowered) == 1 else [lowered]


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    parts = _SENTENCE_SPLIT.split(response)
    keys: list[str] = []
    for index, part in enumerate(parts):
        indicators = _KEY_INDICATORS + (("=",) if index == len(parts) - 1 else ())
        shortest = ""
        for indicator in indicators:
            if indicator in part:
                tail = part.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL_KEYS:
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[OpenValue]:
    """The official open-answer parse: the tails after key phrases ("so ", "is ", "=" ...), plus every number in
    them, normalised; a response with no key phrase stands whole."""
    keys = _key_responses(response)
    candidates = keys + [number for key in keys for number in extract_numbers(key)]
    values: list[OpenValue] = []
    for candidate in candidates:
        for value in normalize_open(candidate):
            if value not in values:
                values.append(value)
    return values


def open_match(golds: Sequence[str], predictions: Sequence[OpenValue]) -> bool:
    """The official open verdict: a predicted number equals a gold number (both rounded to 2 decimals), or a gold
    text occurs inside a predicted text."""
    normalized = [value for gold in golds for value in normalize_open(gold)]
    for prediction in predictions:
        if isinstance(prediction, str):
            if any(isinstance(gold, str) and gold in prediction for gold in normalized):
                return True
        elif prediction in normalized:
            return True
    return False


class MMMUBenchmark:
    """MMMU with its official prompt and rule-based scoring (letter parser; open answers by number or text)."""

    NAME = "mmmu"
    EXTRACTION_NOTE = (
        "Rule-based, as in the official MMMU code (no GPT): after dropping any <think> block, the final answer is "
        "taken from the last \\boxed{}, <answer> tags, an 'Answer:' line or an 'answer is' phrase when present, else "
        "the whole response is read. Multiple choice: a leading letter or an exact option text decides, else the "
        "official letter parser (last '(X)', then last ' X ', then option text), else a letter drawn from a "
        "generator seeded with the example id (rule 'random_fallback'; reproducible; the official code uses one "
        "process-wide generator seeded 42). Open: official parse (key phrases, numbers rounded to 2 decimals, "
        "lower-cased text containment). Responses are read from their last 32,000 characters. On 6,920 real "
        "GPT-4o responses the letter and open parsers reproduce the official functions' output exactly."
    )

    def __init__(self, split: str = "validation") -> None:
        self.split = split

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MMMU rows (parquet folder tree, parquet, JSON or JSONL; or an HF `save_to_disk` folder)."""
        return [self.example(row) for row in read_rows(Path(path), limit, split=self.split)]

    def example(self, row: SourceRow) -> Example:
        """One MMMU row as an example: `<image n>` tags become `<image>` and images follow them in reading order."""
        example_id = str(row.require("id"))
        options = literal_list(row, "options")
        texts, order = number_placeholders([row.text("question"), *options], TAG)
        images = numbered_images(row, order) if order else present_images(row, MAX_IMAGES)
        answers = literal_list(row, "answer") if row.text("answer").startswith("[") else [row.text("answer")]
        question_type = row.text("question_type", MULTIPLE_CHOICE)
        subject = row.text("subject") or subject_of(example_id)
        return Example(
            id=example_id,
            question=texts[0],
            answer=answers[0] if answers else "",
            images=images,
            choices=tuple(texts[1:]) if question_type == MULTIPLE_CHOICE else (),
            metadata={
                "question_type": question_type,
                "answers": answers,
                "options": options,
                "subject": subject,
                "discipline": DISCIPLINE_OF.get(subject, "Unknown"),
                "subfield": row.text("subfield"),
                "topic_difficulty": row.text("topic_difficulty"),
                "img_type": row.text("img_type"),
                "source": row.where(),
            },
        )

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official MMMU query, or a named/user template (`models.prompts`) filled with the question and options."""
        body = example.question
        if example.choices:
            body = f"{body}\n\n{options_block(example.choices)}"
        if template is not None:
            return resolve_template(template).format(question=body.strip())
        instruction = CHOICE_INSTRUCTION if example.choices else OPEN_INSTRUCTION
        return f"{body}\n\n{instruction}"

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response with the official MMMU rules (see `EXTRACTION_NOTE`)."""
        golds = [str(gold) for gold in example.metadata.get("answers") or [example.answer]]
        if example.metadata.get("question_type", MULTIPLE_CHOICE) == MULTIPLE_CHOICE:
            options = example.metadata.get("options") or list(example.choices)
            letter, read_from, rule = read_letter(response, options, f"{self.NAME}:{example.id}")
            verdict = letter in golds
            details: dict[str, Any] = {"read_from": read_from}
            extracted: str | None = letter
        else:
            text = final_text(response)
            extracted, rule = explicit_answer(text) or (None, "whole_response")
            predictions = parse_open(text if extracted is None else extracted)
            verdict = open_match(golds, predictions)
            details = {"parsed": [str(value) for value in predictions[:20]]}
        return ScoredSample(example.id, response, extracted, rule, float(verdict), details)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Overall accuracy, per discipline, subject and subfield, and per question type, as the official tables."""
        pairs = pair_up(examples, scored)
        return {
            "benchmark": self.NAME,
            "overall": accuracy(sample.score for _, sample in pairs),
            "by_discipline": accuracy_by(pairs, lambda example: [example.metadata["discipline"]]),
            "by_subject": accuracy_by(pairs, lambda example: [example.metadata["subject"]]),
            "by_subfield": accuracy_by(pairs, lambda example: [example.metadata["subfield"]]),
            "by_question_type": accuracy_by(pairs, lambda example: [example.metadata["question_type"]]),
            "by_difficulty": accuracy_by(pairs, lambda example: [example.metadata["topic_difficulty"]]),
            "rules": rule_counts(pairs),
        }


BENCHMARK = MMMUBenchmark()
