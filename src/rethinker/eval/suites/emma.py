"""EMMA (Math, Physics, Chemistry, Coding): loading, the official prompt, and the official rule-based scoring.

Data: the HF `mm-reasoning/EMMA` parquet files (one folder per subject) or JSON/JSONL with the same columns: `pid`,
`question` with `<image_n>` tags, `options` (a list, or its Python-literal string), `answer` (a letter for multiple
choice), `solution`, `subject`, `task`, `category` (";"-separated for Coding), `source`, `type` ("Multiple Choice" |
"Open-ended"), `context`, `image_1..image_5`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import MAX_ANSWER_CHARS, final_text, latex_equivalent, parse_number
from rethinker.eval.suites._choice import option_letters
from rethinker.eval.suites._source import (
    BenchmarkDataError,
    SourceRow,
    literal_list,
    number_placeholders,
    numbered_images,
    present_images,
    read_rows,
)
from rethinker.eval.suites._tally import accuracy, accuracy_by, pair_up, rule_counts
from rethinker.eval.suites._text import last_boxed
from rethinker.eval.suites.base import ScoredSample
from rethinker.models.prompts import resolve_template

MAX_IMAGES = 5
TAG = re.compile(r"<image_(\d+)>")
MULTIPLE_CHOICE = "multiple choice"
DIRECT_LETTERS = "ABCDEFGH"
CHOICE_FORMAT = (
    "{context}\n{question}\n{options}\n"
    'Answer with the option\'s letter from the given choices and put the letter in one "\\boxed{{}}". '
)
OPEN_FORMAT = (
    '{context}\n{question}\nAnswer the question using a single word or phrase and put the answer in one "\\boxed{{}}". '
)
STRATEGIES = {
    "CoT": "Please solve the problem step by step.",
    "Direct": "Please ensure that your output only contains the final answer without any additional content (such as "
    "intermediate reasoning steps).",
}
ANSWER_FLAGS = ("final answer is", "correct answer is", "answer should be", "answer is")
_TEXT = re.compile(r"\\text\{(.*?)\}")


def options_listing(options: Sequence[str]) -> str:
    """The official option listing: one "A: text" line per option."""
    return "".join(
        f"{letter}: {option}\n" for letter, option in zip(option_letters(len(options)), options, strict=True)
    )


def extract_answer(response: str) -> tuple[str, str]:
    """The official EMMA fast extraction (the answer and which rule fired), on the text after any `</think>`.

    A bare letter or an "X:" start; a bare number; the last `\\boxed{}` (its last `\\text{}` if any); the first
    line after the last "answer is"-like flag, up to its first full stop; else the whole response, as officially.
    """
    text = final_text(response).strip()
    for letter in DIRECT_LETTERS:
        if text.upper() == letter or text.startswith(f"{letter}:"):
            return letter, "direct_letter"
    if parse_number(text) is not None:
        return text, "direct_number"
    boxed = last_boxed(text)
    if boxed is not None:
        inner = _TEXT.findall(boxed)
        return (inner[-1] if inner else boxed).strip(), "boxed"
    lowered = text.lower()
    for flag in ANSWER_FLAGS:
        if flag in lowered:
            return lowered.split(flag)[-1].strip().split("\n")[0].split(".")[0], "answer_phrase"
    return text, "whole_response"


def is_equal(predicted: str, gold: str) -> bool:
    """The official EMMA comparison: equal lower-cased strings, else equal values (rounded to 2 decimals) or equal
    expressions, where `math-verify` replaces the official latex2sympy + sympy step."""
    predicted, gold = predicted.strip().lower(), gold.strip().lower()
    if predicted == gold:
        return True
    if not predicted or len(predicted) > MAX_ANSWER_CHARS:
        return False
    predicted_number, gold_number = parse_number(predicted), parse_number(gold)
    if predicted_number is not None and gold_number is not None:
        return round(predicted_number, 2) == round(gold_number, 2)
    return latex_equivalent(gold, predicted, float_rounding=2)


def _categories(example: Example) -> list[str]:
    category = str(example.metadata.get("category") or "")
    names = category.split(";") if example.metadata.get("subject") == "Coding" else [category]
    return [f"{example.metadata.get('subject')}/{name.strip()}" for name in names if name.strip()]


class EMMABenchmark:
    """EMMA with its official prompt (chain of thought by default) and its official rule-based scoring."""

    NAME = "emma"
    EXTRACTION_NOTE = (
        "Rule-based: the official EMMA rule path (fast_extract_answer + is_equal), not its optional GPT judge. The "
        "text after any </think> is read (its last 32,000 characters): a bare letter or number, the last \\boxed{} "
        "(its last \\text{}), the line after an 'answer is' flag, else the whole response; it is correct when it "
        "equals the gold answer or, for multiple choice, the gold option's text: as lower-cased strings, as numbers "
        "rounded to 2 decimals, or as expressions by math-verify (replacing the official latex2sympy + sympy). On "
        "the official repository's 398 Gemini-2.0-flash-thinking CoT responses the verdicts agree on 397; the one "
        "difference: math-verify drops units, so '70' matches the option '70 cm', which the official rejects."
    )

    def __init__(self, strategy: str = "CoT") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown EMMA strategy {strategy!r}; expected one of {sorted(STRATEGIES)}")
        self.strategy = strategy

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read EMMA rows (a subject folder, the whole tree, a parquet/JSON/JSONL file, or a `save_to_disk` folder)."""
        return [self.example(row) for row in read_rows(Path(path), limit)]

    def example(self, row: SourceRow) -> Example:
        """One EMMA row as an example: `<image_n>` tags become `<image>`, images follow them in reading order."""
        question_type = row.text("type").strip()
        multiple_choice = question_type.lower() == MULTIPLE_CHOICE
        options = literal_list(row, "options") if multiple_choice else []
        answer = row.text("answer").strip()
        if multiple_choice and answer not in option_letters(len(options)):
            raise BenchmarkDataError(f"{row.where('answer')}: {answer!r} is not a letter of the {len(options)} options")
        texts, order = number_placeholders([row.text("context"), row.text("question"), *options], TAG)
        images = numbered_images(row, order) if order else present_images(row, MAX_IMAGES)
        return Example(
            id=str(row.require("pid")),
            question=texts[1],
            answer=answer,
            images=images,
            choices=tuple(texts[2:]),
            metadata={
                "context": texts[0],
                "type": question_type,
                "gold_text": options[ord(answer) - ord("A")] if multiple_choice else answer,
                "subject": row.text("subject"),
                "category": row.text("category"),
                "task": row.text("task"),
                "source_dataset": row.text("source"),
                "source": row.where(),
            },
        )

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official EMMA query (context, question, options, instruction, strategy), or a named/user template."""
        context = str(example.metadata.get("context", ""))
        if template is not None:
            body = "\n".join(part for part in (context, example.question, options_listing(example.choices)) if part)
            return resolve_template(template).format(question=body.strip())
        if example.choices:
            query = CHOICE_FORMAT.format(
                context=context, question=example.question, options=options_listing(example.choices)
            )
        else:
            query = OPEN_FORMAT.format(context=context, question=example.question)
        return query + STRATEGIES[self.strategy]

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response: the extracted answer must equal the gold answer (or the gold option's text)."""
        extracted, rule = extract_answer(response)
        gold_text = str(example.metadata.get("gold_text", example.answer))
        verdict = is_equal(extracted, example.answer) or (
            gold_text != example.answer and is_equal(extracted, gold_text)
        )
        return ScoredSample(example.id, response, extracted[:MAX_ANSWER_CHARS], rule, float(verdict))

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Overall accuracy and the official breakdowns: per subject, category (within subject), type and task."""
        pairs = pair_up(examples, scored)
        return {
            "benchmark": self.NAME,
            "overall": accuracy(sample.score for _, sample in pairs),
            "by_subject": accuracy_by(pairs, lambda example: [example.metadata["subject"]]),
            "by_category": accuracy_by(pairs, _categories),
            "by_type": accuracy_by(pairs, lambda example: [example.metadata["type"].lower()]),
            "by_task": accuracy_by(
                pairs,
                lambda example: (
                    [f"{example.metadata['subject']}_{example.metadata['task']}"] if example.metadata["task"] else []
                ),
            ),
            "rules": rule_counts(pairs),
        }


BENCHMARK = EMMABenchmark()
