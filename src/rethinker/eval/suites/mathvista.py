"""MathVista (testmini / test): loading its public files, its official query, and its official scoring rules.

Scoring follows the official `evaluation/calculate_score.py` of lupantech/MathVista: a multiple-choice extraction that
is a letter maps to that choice, anything else to the nearest choice by edit distance; integers compare as
`str(int(float(x)))`, floats as `str(round(float(x), precision))`, lists as exact strings; an extraction that does not
convert is wrong.
The official extraction step asks a GPT model; ours is rule-based (see `EXTRACTION_NOTE`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example, ImageSource
from rethinker.eval.suites._reading import chosen_option, final_number
from rethinker.eval.suites._text import final_list, nearest_choice, strip_think
from rethinker.eval.suites.base import ScoredSample
from rethinker.jsonl import iter_jsonl

NAME = "mathvista"
EXTRACTION_NOTE = (
    "MathVista's official pipeline extracts the answer with a GPT judge; this scorer reads it with rules (boxed, "
    "<answer> tags, English and Chinese answer markers and the line after them, option-letter lines, a choice's text "
    "or value in the closing sentences, yes/no statements, committed numbers and number words) and then applies the "
    "official normalisation and comparison; a response that names no choice or refuses is wrong, never matched to the "
    "nearest choice. On the published testmini outputs of Bard, Claude and LLaVA-LLaMA-2-13B it agrees with the "
    "official GPT-based verdicts on 98.3%, 99.4% and 97.2% of non-empty responses (benchmarks/eval_agreement)."
)

MAX_RESPONSE_CHARS = 20_000
METADATA_KEYS = ("language", "source", "category", "task", "context", "grade", "skills")
AGGREGATE_KEYS = ("question_type", "answer_type", *METADATA_KEYS)

MULTI_CHOICE_HINT = (
    "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
)
FREE_FORM_HINTS = {
    "integer": "Hint: Please answer the question requiring an integer answer and provide the final value, "
    "e.g., 1, 2, 3, at the end.",
    "float1": "Hint: Please answer the question requiring a floating-point number with one decimal place and provide "
    "the final value, e.g., 1.2, 1.3, 1.4, at the end.",
    "float2": "Hint: Please answer the question requiring a floating-point number with two decimal places and provide "
    "the final value, e.g., 1.23, 1.34, 1.45, at the end.",
    "list": "Hint: Please answer the question requiring a Python list as an answer and provide the final list, "
    "e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.",
}


# ---------------------------------------------------------------- loading


def _json_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of the official JSON file (an object keyed by pid) or a JSON list."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, Mapping):
        records = [{"pid": pid, **record} if isinstance(record, Mapping) else record for pid, record in data.items()]
    elif isinstance(data, list):
        records = data
    else:
        raise ValueError(f"{path}: expected a JSON object keyed by pid or a list of problems")
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"{path}: problem {index}: expected a JSON object")
        yield dict(record)


def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file, one problem a line; a bad line is an error naming it."""
    for _, record in iter_jsonl(path):
        yield record


def _parquet_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a parquet file (the layout of the Hugging Face release), read in batches."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
        yield from batch.to_pylist()


def _dataset_dir_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a `datasets.save_to_disk` folder (a Dataset, or a DatasetDict with a testmini/test split)."""
    from datasets import Dataset, DatasetDict, Image, load_from_disk

    loaded = load_from_disk(str(path))
    if isinstance(loaded, DatasetDict):
        split = next((name for name in ("testmini", "test") if name in loaded), None)
        if split is None and len(loaded) != 1:
            raise ValueError(f"{path}: no testmini/test split among {sorted(loaded)}")
        loaded = loaded[split or next(iter(loaded))]
    if not isinstance(loaded, Dataset):
        raise ValueError(f"{path}: not a saved Dataset or DatasetDict")
    for column, feature in loaded.features.items():
        if isinstance(feature, Image):
            loaded = loaded.cast_column(column, Image(decode=False))
    yield from loaded


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Raw problem records from any supported file layout."""
    if path.is_dir():
        return _dataset_dir_records(path)
    if path.suffix == ".jsonl":
        return _jsonl_records(path)
    if path.suffix == ".parquet":
        return _parquet_records(path)
    return _json_records(path)


def _precision(value: Any) -> int | None:
    """The decimal places of a float answer; None where absent (parquet stores it as a float, NaN when absent)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _images(record: Mapping[str, Any], folder: Path) -> tuple[ImageSource, ...]:
    """Embedded image bytes when present, else the image path relative to the data folder (it may not exist)."""
    for key in ("decoded_image", "image"):
        value = record.get(key)
        if isinstance(value, Mapping) and value.get("bytes"):
            return (bytes(value["bytes"]),)
    image = record.get("image")
    if isinstance(image, str) and image:
        return (folder / image,)
    return ()


def _example(record: Mapping[str, Any], folder: Path, where: str) -> Example:
    """One validated example; a missing field is an error naming the record."""
    for key in ("pid", "question", "question_type", "answer_type"):
        if record.get(key) in (None, ""):
            raise ValueError(f"{where}: missing field {key!r}")
    choices = tuple(str(choice) for choice in record.get("choices") or ())
    if record["question_type"] == "multi_choice" and not choices:
        raise ValueError(f"{where}: multi_choice problem without choices")
    metadata: dict[str, Any] = {
        "question_type": record["question_type"],
        "answer_type": record["answer_type"],
        "precision": _precision(record.get("precision")),
        "unit": record.get("unit") or None,
        "query": record.get("query") or None,
        **dict(record.get("metadata") or {}),
    }
    return Example(
        id=str(record["pid"]),
        question=str(record["question"]),
        answer=str(record.get("answer") or ""),
        images=_images(record, folder),
        choices=choices,
        metadata=metadata,
    )


def load(path: Path, limit: int | None = None) -> list[Example]:
    """Read MathVista problems from the official JSON (keyed by pid), JSONL, parquet or a Hugging Face datasets dir."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    examples = []
    for index, record in enumerate(_records(path)):
        if limit is not None and index >= limit:
            break
        examples.append(_example(record, folder, f"{path}: problem {index} (pid {record.get('pid')!r})"))
    return examples


# ---------------------------------------------------------------- prompt


def _hint(example: Example) -> str:
    """The official hint line for the problem's question and answer type."""
    if example.metadata["question_type"] == "multi_choice":
        return MULTI_CHOICE_HINT
    answer_type = example.metadata["answer_type"]
    key = f"float{example.metadata['precision']}" if answer_type == "float" else answer_type
    return FREE_FORM_HINTS[key]


def question_with_choices(example: Example) -> str:
    """The question with its unit and its lettered choices, as the official query lays them out."""
    text = example.question
    if example.metadata.get("unit"):
        text += f" (Unit: {example.metadata['unit']})"
    if example.choices:
        lines = [f"({chr(ord('A') + index)}) {choice}" for index, choice in enumerate(example.choices)]
        text += "\nChoices:\n" + "\n".join(lines)
    return text


def official_query(example: Example) -> str:
    """The official zero-shot query: the stored `query`, or the same text rebuilt from the problem's fields."""
    stored = example.metadata.get("query")
    if stored:
        return str(stored)
    return f"{_hint(example)}\nQuestion: {question_with_choices(example)}".strip()


def build_prompt(example: Example, template: str | None = None) -> str:
    """The official query, or `template` with `{question}` replaced by the question, unit and lettered choices."""
    if template is None:
        return official_query(example)
    return template.replace("{question}", question_with_choices(example))


# ---------------------------------------------------------------- official normalisation


def normalize_extraction(
    extraction: Any, choices: Sequence[str], question_type: str, answer_type: str, precision: int | None
) -> str | None:
    """The official normalisation of an extracted answer; None where it does not convert (then it is wrong)."""
    if question_type == "multi_choice":
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        letter = re.search(r"\(([a-zA-Z])\)", text)
        if letter:
            text = letter.group(1).upper()
        letters = [chr(ord("A") + index) for index in range(len(choices))]
        if text in letters:
            return choices[letters.index(text)]
        return nearest_choice(text, choices)
    try:
        if answer_type == "integer":
            return str(int(float(extraction)))
        if answer_type == "float":
            return None if precision is None else str(round(float(extraction), int(precision)))
        if answer_type == "list":
            return str(extraction)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def normalize_for(extraction: Any, example: Example) -> str | None:
    """`normalize_extraction` with the problem's choices, types and precision."""
    question_type, answer_type = example.metadata["question_type"], example.metadata["answer_type"]
    return normalize_extraction(extraction, example.choices, question_type, answer_type, example.metadata["precision"])


# ---------------------------------------------------------------- rule-based extraction


def extract_answer(response: str, example: Example) -> tuple[str, str]:
    """The answer a response gives, by rules (in place of the official GPT judge), and the rule that fired."""
    text = strip_think(response[-MAX_RESPONSE_CHARS:])
    if not text.strip():
        return "", "empty"
    if example.metadata["question_type"] == "multi_choice":
        return chosen_option(text, example.choices, example.question)
    if example.metadata["answer_type"] == "list":
        return final_list(text)
    return final_number(text, example.question)


# ---------------------------------------------------------------- scoring and aggregation


def score(response: str, example: Example) -> ScoredSample:
    """Score one raw response: rule-based extraction, then the official normalisation and exact comparison (no answer
    read is wrong, never the nearest choice)."""
    extracted, rule = extract_answer(response, example)
    prediction = normalize_for(extracted, example) if extracted else None
    correct = prediction is not None and prediction == example.answer
    return ScoredSample(
        id=example.id,
        response=response,
        extracted=extracted,
        rule=rule,
        score=1.0 if correct else 0.0,
        details={"prediction": prediction, "answer": example.answer},
    )


def oracle_response(example: Example) -> str:
    r"""The gold answer as a model following the official hint writes it: the option letter, else the value, boxed."""
    answer = example.answer
    if example.metadata["question_type"] == "multi_choice" and answer in example.choices:
        answer = chr(ord("A") + example.choices.index(answer))
    return f"The final answer is $\\boxed{{{answer}}}$."


def _group_values(example: Example, key: str) -> list[Any]:
    """The value(s) of `key` an example counts under (a problem counts under each of its skills)."""
    value = example.metadata.get(key)
    if key == "skills":
        return list(value or [])
    return [] if value is None else [value]


def _accuracy_table(counts: dict[Any, list[int]]) -> dict[str, dict[str, Any]]:
    """Per-value rows like the official score file, highest accuracy first (ties keep first-seen order)."""
    rows = {
        str(value): {"accuracy": f"{correct / total * 100:.2f}", "correct": correct, "total": total}
        for value, (correct, total) in counts.items()
    }
    return dict(sorted(rows.items(), key=lambda item: float(item[1]["accuracy"]), reverse=True))


def aggregate(examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
    """The official score file: average plus accuracy per question type, answer type and each metadata field."""
    by_id = {example.id: example for example in examples}
    correct = sum(1 for sample in scored if sample.score > 0)
    total = len(scored)
    accuracy = str(round(correct / total * 100, 2)) if total else "0.0"
    results: dict[str, Any] = {"average": {"accuracy": accuracy, "correct": correct, "total": total}}
    for key in AGGREGATE_KEYS:
        counts: dict[Any, list[int]] = {}
        for sample in scored:
            for value in _group_values(by_id[sample.id], key):
                tally = counts.setdefault(value, [0, 0])
                tally[0] += sample.score > 0
                tally[1] += 1
        if counts:
            results[key] = _accuracy_table(counts)
    return results


class MathVista:
    """The MathVista benchmark module as a `Benchmark` object."""

    NAME = NAME
    EXTRACTION_NOTE = EXTRACTION_NOTE

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MathVista problems (see module `load`)."""
        return load(path, limit)

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official query or a filled template (see module `build_prompt`)."""
        return build_prompt(example, template)

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response with the official rules (see module `score`)."""
        return score(response, example)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """The official score table (see module `aggregate`)."""
        return aggregate(examples, scored)

    def oracle_response(self, example: Example) -> str:
        """The gold answer written as a model would (see module `oracle_response`)."""
        return oracle_response(example)


BENCHMARK = MathVista()
