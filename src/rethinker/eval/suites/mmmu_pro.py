"""MMMU-Pro: the standard (10 or 4 options) and vision settings, their official prompts and official letter scoring.

Data: the HF `MMMU/MMMU_Pro` folders ("standard (10 options)/test-*.parquet", "standard (4 options)/...",
"vision/..."), any one of them, or JSON/JSONL with the same columns. Standard rows: `id`, `question` with `<image n>`
tags (also inside `options`, possibly out of order), `options` (a Python-list string), `answer` (a letter),
`image_1..image_7`, `subject`, `topic_difficulty`, `img_type`. Vision rows: `id`, `image` (a screenshot holding the
question and options), `options`, `answer`, `subject`. The setting is read from the folder name, else from the columns.
Example ids are "<setting>/<id>" because the same question id appears in every setting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._choice import option_letters, read_letter
from rethinker.eval.suites._source import (
    BenchmarkDataError,
    SourceRow,
    image_source,
    literal_list,
    number_placeholders,
    numbered_images,
    read_rows,
)
from rethinker.eval.suites._tally import Pair, accuracy, accuracy_by, pair_up, percent, rule_counts
from rethinker.eval.suites.base import ScoredSample
from rethinker.eval.suites.mmmu import DISCIPLINE_OF
from rethinker.models.prompts import resolve_template

TAG = re.compile(r"<image\s+(\d+)>")
STANDARD_10 = "standard (10 options)"
STANDARD_4 = "standard (4 options)"
VISION = "vision"
OVERALL_SETTINGS = (STANDARD_10, VISION)
INSTRUCTIONS: dict[str, dict[str, str]] = {
    "cot": {
        VISION: "Write out the multiple-choice question in the image and then solve it. The last line of your "
        "response should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
        "options. Think step by step before answering.",
        "standard": "Answer the preceding multiple choice question. The last line of your response should be of the "
        "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of options. Think step by step "
        "before answering.",
    },
    "direct": {
        VISION: "Answer with the option letter from the given choices directly. The last line of your response "
        "should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of options.",
        "standard": "Answer with the option letter from the given choices directly.",
    },
}
VISION_QUESTION = "Write out the multiple-choice question in the image and then solve it."


def setting_of(row: SourceRow) -> str:
    """The MMMU-Pro setting of a row: from its folder name ("vision", "standard (10 options)"), else its columns."""
    folder = row.file.parent.name if row.file.is_file() else row.file.name
    for setting in (STANDARD_10, STANDARD_4, VISION):
        if folder.startswith(setting):
            return setting
    if "question" not in row.fields and "image" in row.fields:
        return VISION
    return STANDARD_4 if len(literal_list(row, "options")) <= 4 else STANDARD_10


def options_lines(options: Sequence[str]) -> str:
    """The official standard-setting option listing: one "A. text" line per option."""
    return "\n".join(
        f"{letter}. {option}" for letter, option in zip(option_letters(len(options)), options, strict=True)
    )


class MMMUProBenchmark:
    """MMMU-Pro with its official prompts (chain of thought by default) and official letter parsing."""

    NAME = "mmmu_pro"
    EXTRACTION_NOTE = (
        "Rule-based, as in the official MMMU-Pro evaluate.py (no GPT): after dropping any <think> block, the final "
        "answer is taken from the last \\boxed{}, <answer> tags, an 'Answer:' line or an 'answer is' phrase when "
        "present; a leading letter or an exact option text decides, else the official parser (a unique letter after "
        "the last 'Answer:', then '(X)', 'X ', 'X.', then option text, the last occurrence winning) reads it, then "
        "the whole response; if nothing matches, a letter drawn from a generator seeded with the example id (rule "
        "'random_fallback'; reproducible, where the official code uses one process-wide generator). The overall "
        "score is the mean of the standard (10 options) and vision settings, as in the MMMU-Pro paper. On the "
        "official GPT-4o outputs (4 x 1,730 responses) the parser reproduces the official letter on all 6,862 "
        "responses where the official code found one."
    )

    def __init__(self, mode: str = "cot") -> None:
        if mode not in INSTRUCTIONS:
            raise ValueError(f"unknown MMMU-Pro prompt mode {mode!r}; expected one of {sorted(INSTRUCTIONS)}")
        self.mode = mode

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MMMU-Pro rows of one or several settings (a setting folder, the whole tree, or a single file)."""
        return [self.example(row) for row in read_rows(Path(path), limit)]

    def example(self, row: SourceRow) -> Example:
        """One MMMU-Pro row as an example; standard images follow their `<image n>` tags in prompt order."""
        setting = setting_of(row)
        raw_id = str(row.require("id"))
        options = literal_list(row, "options")
        answer = str(row.require("answer")).strip()
        if answer not in option_letters(len(options)):
            raise BenchmarkDataError(f"{row.where('answer')}: {answer!r} is not a letter of the {len(options)} options")
        if setting == VISION:
            screenshot = image_source(row, "image")
            if screenshot is None:
                raise BenchmarkDataError(f"{row.where('image')}: a vision-setting row needs its screenshot")
            question, choices, images = "", tuple(options), (screenshot,)
        else:
            texts, order = number_placeholders([row.text("question"), *options], TAG)
            question, choices, images = texts[0], tuple(texts[1:]), numbered_images(row, order)
        subject = row.text("subject")
        return Example(
            id=f"{setting}/{raw_id}",
            question=question,
            answer=answer,
            images=images,
            choices=choices,
            metadata={
                "setting": setting,
                "source_id": raw_id,
                "options": options,
                "subject": subject,
                "discipline": DISCIPLINE_OF.get(subject, "Unknown"),
                "topic_difficulty": row.text("topic_difficulty"),
                "img_type": row.text("img_type"),
                "source": row.where(),
            },
        )

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official MMMU-Pro query for the example's setting, or a named/user template filled with the question."""
        vision = example.metadata.get("setting") == VISION
        body = VISION_QUESTION if vision else f"{example.question}\n{options_lines(example.choices)}"
        if template is not None:
            return resolve_template(template).format(question=body)
        instruction = INSTRUCTIONS[self.mode][VISION if vision else "standard"]
        return instruction if vision else f"{body}\n{instruction}"

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response: the parsed letter must equal the gold letter."""
        options = example.metadata.get("options") or list(example.choices)
        letter, read_from, rule = read_letter(response, options, f"{self.NAME}:{example.id}", pro=True)
        verdict = float(letter == example.answer)
        return ScoredSample(example.id, response, letter, rule, verdict, {"read_from": read_from})

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Accuracy per setting, per subject and discipline within each setting, and the official overall."""
        pairs = pair_up(examples, scored)
        by_setting = accuracy_by(pairs, lambda example: [example.metadata["setting"]])
        headline = [setting for setting in OVERALL_SETTINGS if setting in by_setting]
        means = [_mean_score(pairs, setting) for setting in headline]
        pooled = accuracy(sample.score for _, sample in pairs)
        return {
            "benchmark": self.NAME,
            "overall": {
                "accuracy": percent(sum(means) / len(means)) if means else pooled["accuracy"],
                "settings": headline or sorted(by_setting),
            },
            "pooled": pooled,
            "by_setting": by_setting,
            "by_subject": _within_settings(pairs, "subject"),
            "by_discipline": _within_settings(pairs, "discipline"),
            "rules": rule_counts(pairs),
        }


def _mean_score(pairs: Sequence[Pair], setting: str) -> float:
    scores = [sample.score for example, sample in pairs if example.metadata["setting"] == setting]
    return sum(scores) / len(scores)


def _within_settings(pairs: Sequence[Pair], field: str) -> dict[str, dict[str, Any]]:
    settings = dict.fromkeys(example.metadata["setting"] for example, _ in pairs)
    return {
        setting: accuracy_by(
            [pair for pair in pairs if pair[0].metadata["setting"] == setting],
            lambda example: [example.metadata[field]],
        )
        for setting in settings
    }


BENCHMARK = MMMUProBenchmark()
