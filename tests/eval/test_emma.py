"""EMMA: loading with interleaved images, the official prompt, the official rule path, per subject and category."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rethinker.eval.suites._source import BenchmarkDataError
from rethinker.eval.suites.base import Benchmark
from rethinker.eval.suites.emma import BENCHMARK, EMMABenchmark, extract_answer, is_equal
from rethinker.models.prompts import build_messages

FIXTURE = Path(__file__).parent / "fixtures" / "emma"


def examples_by_id() -> dict[str, object]:
    """The fixture examples by id."""
    return {example.id: example for example in BENCHMARK.load(FIXTURE)}


def test_module_fulfils_the_benchmark_protocol() -> None:
    benchmark: Benchmark = BENCHMARK
    assert benchmark.NAME == "emma" and "GPT" in benchmark.EXTRACTION_NOTE


def test_subject_folders_load_with_images_in_reading_order() -> None:
    examples = examples_by_id()
    assert sorted(examples) == ["chemistry_3", "coding_4", "math_1", "math_5", "physics_2"]
    chemistry = examples["chemistry_3"]
    assert chemistry.question == "Which product forms from the reactant <image>?"
    assert chemistry.choices[0] == "<image>"
    assert [Path(image).name for image in chemistry.images] == ["Chemistry_3_1.png", "Chemistry_3_2.png"]
    assert chemistry.metadata["gold_text"] == "<image_2>"
    assert examples["math_5"].choices == () and examples["math_5"].metadata["gold_text"] == "12"


def test_parquet_with_list_options_and_embedded_images(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    image = {"bytes": buffer.getvalue(), "path": None}
    row = {"pid": "math_9", "question": "<image_1> Which? <image_2>", "options": ["1", "2"], "answer": "B",
           "solution": "", "subject": "Math", "task": "", "category": "Pattern Inference", "source": "x",
           "type": "Multiple Choice", "context": "", "image_1": image, "image_2": image, "image_3": None,
           "image_4": None, "image_5": None}  # fmt: skip
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "test-00000-of-00001.parquet")
    (example,) = BENCHMARK.load(tmp_path)
    assert example.images == (image["bytes"], image["bytes"]) and example.choices == ("1", "2")


def test_official_prompts() -> None:
    examples = examples_by_id()
    assert BENCHMARK.build_prompt(examples["math_1"]) == (
        "\nWhich net folds into the cube shown? <image>\nA: A\nB: B\nC: C\nD: D\nE: E\n\n"
        'Answer with the option\'s letter from the given choices and put the letter in one "\\boxed{}". '
        "Please solve the problem step by step."
    )
    physics = BENCHMARK.build_prompt(examples["physics_2"])
    assert physics.startswith("A 1 kg block sits on a rough slope.\n<image> What is the net force")
    assert physics.endswith('put the answer in one "\\boxed{}". Please solve the problem step by step.')
    direct = EMMABenchmark(strategy="Direct").build_prompt(examples["physics_2"])
    assert direct.endswith("(such as intermediate reasoning steps).")
    templated = BENCHMARK.build_prompt(examples["physics_2"], "{question}\n\nBox it.")
    assert templated.startswith("A 1 kg block sits on a rough slope.\n<image> What") and templated.endswith("Box it.")
    with pytest.raises(ValueError, match="strategy"):
        EMMABenchmark(strategy="Fast")


def test_oracle_gold_answers_score_full_marks() -> None:
    examples = list(examples_by_id().values())
    report = BENCHMARK.aggregate(examples, [BENCHMARK.score(example.answer, example) for example in examples])
    assert report["overall"] == {"accuracy": 100.0, "correct": 5, "total": 5}
    assert set(report["by_subject"]) == {"Math", "Physics", "Chemistry", "Coding"}


def test_breakdowns_per_subject_category_type_and_task() -> None:
    examples = examples_by_id()
    responses = {"math_1": "\\boxed{B}", "math_5": "The answer is 11.", "physics_2": "\\boxed{2.50}",
                 "chemistry_3": "\\boxed{A}", "coding_4": "\\boxed{B}"}  # fmt: skip
    scored = [BENCHMARK.score(text, examples[example_id]) for example_id, text in responses.items()]
    report = BENCHMARK.aggregate(list(examples.values()), scored)
    assert report["by_subject"]["Math"] == {"accuracy": 50.0, "correct": 1, "total": 2}
    assert report["by_category"]["Coding/Data Visualization"]["accuracy"] == 0.0
    assert report["by_category"]["Coding/Chart Type"]["total"] == 1
    assert report["by_type"]["open-ended"] == {"accuracy": 50.0, "correct": 1, "total": 2}
    assert report["by_task"] == {"Physics_Force Analysis": {"accuracy": 100.0, "correct": 1, "total": 1}}
    assert report["rules"] == {"boxed": 4, "answer_phrase": 1}


def test_official_extraction_rules() -> None:
    assert extract_answer("C") == ("C", "direct_letter")
    assert extract_answer("B: because the net is symmetric") == ("B", "direct_letter")
    assert extract_answer(" 42 ") == ("42", "direct_number")
    assert extract_answer("So \\boxed{\\text{D}} it is") == ("D", "boxed")
    assert extract_answer("<think>\\boxed{A}</think>Thus \\boxed{\\frac{5}{2}}") == ("\\frac{5}{2}", "boxed")
    assert extract_answer("Hence the correct answer is\n D. done") == ("d", "answer_phrase")
    assert extract_answer("The answer is 2.5 N.") == ("2", "answer_phrase")  # the official cut at the first "."
    assert extract_answer("The final answer is d. Done") == ("d", "answer_phrase")
    assert extract_answer("no idea") == ("no idea", "whole_response")


def test_official_equality_rules() -> None:
    assert is_equal("12.001", "12") and is_equal("b", "B")
    assert is_equal("\\frac{5}{2}", "2.5") and is_equal("x+1", "1+x")
    assert not is_equal("12.1", "12") and not is_equal("A or B", "A") and not is_equal("", "0")


def test_multiple_choice_accepts_the_gold_option_text() -> None:
    example = examples_by_id()["math_5"]
    choice = replace(
        example, answer="C", choices=("1 m/s", "2 m/s", "3 m/s"), metadata={**example.metadata, "gold_text": "3 m/s"}
    )
    assert BENCHMARK.score("\\boxed{3 m/s}", choice).score == 1.0
    assert BENCHMARK.score("\\boxed{C}", choice).score == 1.0
    assert BENCHMARK.score("\\boxed{2 m/s}", choice).score == 0.0


def test_pathological_response_scores_zero_quickly() -> None:
    example = examples_by_id()["math_5"]
    scored = BENCHMARK.score("\\boxed{10^{10^{10^{10}}}}" + "x" * 1_000_000, example)
    assert scored.score == 0.0 and len(scored.extracted) <= 300


def test_chat_messages_interleave_images_where_the_tags_were() -> None:
    chemistry = examples_by_id()["chemistry_3"]
    messages = build_messages(chemistry, "default", question=BENCHMARK.build_prompt(chemistry, "{question}"))
    kinds = [part["type"] for part in messages[-1]["content"]]
    assert kinds == ["text", "image", "text", "image", "text"]


def test_a_broken_line_is_reported_with_its_row(tmp_path: Path) -> None:
    lines = (FIXTURE / "Math" / "test.jsonl").read_text().splitlines()
    (tmp_path / "test.jsonl").write_text(lines[0] + "\n{broken\n")
    with pytest.raises(BenchmarkDataError, match=r"test.jsonl row 1: not valid JSON"):
        BENCHMARK.load(tmp_path)
