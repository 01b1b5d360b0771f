"""MMMU: loading every layout, the official prompt, the official letter and open-answer rules, aggregation."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rethinker.eval.suites import mmmu
from rethinker.eval.suites._choice import fallback_letter, parse_choice, read_letter
from rethinker.eval.suites._source import BenchmarkDataError
from rethinker.eval.suites.base import Benchmark
from rethinker.eval.suites.mmmu import BENCHMARK, normalize_open, open_match, parse_open

FIXTURE = Path(__file__).parent / "fixtures" / "mmmu"


def png_bytes(color: tuple[int, int, int]) -> bytes:
    """A tiny encoded PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), color).save(buffer, format="PNG")
    return buffer.getvalue()


def fixture_rows() -> list[dict]:
    """The validation rows of the fixture, as published (JSON values)."""
    files = sorted(FIXTURE.glob("*/validation.jsonl"))
    return [json.loads(line) for file in files for line in file.read_text().splitlines()]


def examples_by_id() -> dict[str, object]:
    """The fixture examples by id."""
    return {example.id: example for example in BENCHMARK.load(FIXTURE)}


def test_module_fulfils_the_benchmark_protocol() -> None:
    benchmark: Benchmark = BENCHMARK
    assert benchmark.NAME == "mmmu" and "random" in benchmark.EXTRACTION_NOTE


def test_folder_tree_loads_only_the_validation_split_with_subjects_and_disciplines() -> None:
    examples = examples_by_id()
    assert sorted(examples) == [
        "validation_Accounting_1",
        "validation_Accounting_2",
        "validation_Art_Theory_2",
        "validation_Math_3",
        "validation_Math_4",
    ]
    art = examples["validation_Art_Theory_2"]
    assert art.metadata["subject"] == "Art_Theory" and art.metadata["discipline"] == "Art and Design"
    assert art.metadata["subfield"] == "Art History"
    assert examples["validation_Math_3"].metadata["answers"] == ["24/7", "3.429"]


def test_image_tags_in_options_become_placeholders_with_images_in_order() -> None:
    art = examples_by_id()["validation_Art_Theory_2"]
    assert art.choices == ("<image>", "<image>")
    assert [Path(image).name for image in art.images] == [
        "validation_Art_Theory_2_1.png",
        "validation_Art_Theory_2_2.png",
    ]
    prompt = BENCHMARK.build_prompt(art)
    assert prompt.count("<image>") == len(art.images)


def test_official_prompts_and_template() -> None:
    examples = examples_by_id()
    choice = BENCHMARK.build_prompt(examples["validation_Accounting_1"])
    assert choice == (
        "<image> What is the firm's net income for the year?\n\n(A) $1,200\n(B) $1,500\n(C) $2,700\n(D) $300\n\n\n"
        "Answer with the option's letter from the given choices directly."
    )
    open_prompt = BENCHMARK.build_prompt(examples["validation_Math_4"])
    assert open_prompt.endswith("right one.\n\nAnswer the question using a single word or phrase.")
    templated = BENCHMARK.build_prompt(examples["validation_Accounting_1"], "default")
    assert templated.startswith("<image> What is")
    assert templated.endswith("(D) $300\n\nPlease reason step by step, and put your final answer within \\boxed{}.")


def test_parquet_with_embedded_image_bytes(tmp_path: Path) -> None:
    rows = fixture_rows()
    image = {"bytes": png_bytes((1, 2, 3)), "path": "x.png"}
    for row in rows:
        for number in range(1, 8):
            row[f"image_{number}"] = image if row[f"image_{number}"] else None
    subject_folder = tmp_path / "Art_Theory"
    subject_folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), subject_folder / "validation-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(rows[:1]), subject_folder / "test-00000-of-00001.parquet")
    examples = BENCHMARK.load(tmp_path)
    assert len(examples) == len(rows)
    art = next(example for example in examples if example.id == "validation_Art_Theory_2")
    assert art.images == (image["bytes"], image["bytes"])
    assert len(BENCHMARK.load(tmp_path, limit=2)) == 2


def test_hf_saved_dataset_folder(tmp_path: Path) -> None:
    rows = fixture_rows()
    for row in rows:
        for number in range(1, 8):
            row[f"image_{number}"] = Image.new("RGB", (2, 2)) if row[f"image_{number}"] else None
    features = datasets.Features(
        {key: datasets.Image() if key.startswith("image_") else datasets.Value("string") for key in rows[0]}
    )
    datasets.Dataset.from_list(rows, features=features).save_to_disk(str(tmp_path / "saved"))
    examples = BENCHMARK.load(tmp_path / "saved")
    assert [example.id for example in examples] == [row["id"] for row in rows]
    assert all(isinstance(image, bytes) for example in examples for image in example.images)
    assert sum(len(example.images) for example in examples) == 5


def test_a_tag_without_its_image_names_the_row(tmp_path: Path) -> None:
    row = fixture_rows()[0] | {"image_1": None}
    (tmp_path / "validation.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(BenchmarkDataError, match=r"row 0 field 'image_1'"):
        BENCHMARK.load(tmp_path)


def test_oracle_gold_answers_score_full_marks_with_official_breakdowns() -> None:
    examples = BENCHMARK.load(FIXTURE)
    scored = [BENCHMARK.score(example.answer, example) for example in examples]
    report = BENCHMARK.aggregate(examples, scored)
    assert report["overall"] == {"accuracy": 100.0, "correct": 5, "total": 5}
    assert set(report["by_discipline"]) == {"Business", "Art and Design", "Science"}
    assert report["by_subject"]["Math"]["total"] == 2
    assert report["by_question_type"]["open"]["total"] == 3
    assert "random_fallback" not in report["rules"]


def test_aggregate_is_instance_level_per_discipline() -> None:
    examples = BENCHMARK.load(FIXTURE)
    responses = {"validation_Accounting_1": "(C)", "validation_Accounting_2": "so the answer is 99"}
    scored = [BENCHMARK.score(responses.get(example.id, example.answer), example) for example in examples]
    report = BENCHMARK.aggregate(examples, scored)
    assert report["by_discipline"]["Business"] == {"accuracy": 50.0, "correct": 1, "total": 2}
    assert report["overall"]["accuracy"] == 80.0


def test_several_letters_resolve_to_the_last_as_officially() -> None:
    options = ["cat", "dog", "bird", "fish"]
    assert parse_choice("(A) is tempting but (C) is right", options) == "C"
    assert parse_choice("Between A and D I pick D", options) == "D"
    assert parse_choice("(B) first, then D at the end", options) == "B"
    assert parse_choice("I believe the animal in the picture is a bird, not a dog", options) == "B"
    assert parse_choice("bird", options) is None


def test_random_fallback_is_seeded_by_example_id() -> None:
    example = examples_by_id()["validation_Accounting_1"]
    first = BENCHMARK.score("I cannot tell.", example)
    again = BENCHMARK.score("I cannot tell.", example)
    assert first.rule == "random_fallback" and first.extracted == again.extracted
    assert first.extracted == fallback_letter(["A", "B", "C", "D"], "mmmu:validation_Accounting_1")
    drawn = {fallback_letter(["A", "B", "C", "D"], f"mmmu:id_{index}") for index in range(40)}
    assert drawn == {"A", "B", "C", "D"}


def test_chain_of_thought_answers_are_read_from_the_final_statement() -> None:
    example = examples_by_id()["validation_Accounting_1"]
    boxed = "Option (A) ignores costs and (B) double counts. Net income is 2700.\n\\boxed{C}"
    assert BENCHMARK.score(boxed, example).score == 1.0
    assert BENCHMARK.score("<think>(A) looks right</think>The answer is (C).", example).score == 1.0
    assert BENCHMARK.score("Answer: $2,700", example).extracted == "C"
    assert BENCHMARK.score("\\boxed{B}", example).score == 0.0
    assert read_letter("\\boxed{A or C}", ["1", "2", "3"], "key")[0] == "C"
    assert read_letter("anything", [], "key") == ("", "", "no_options")


def test_open_numbers_round_to_two_decimals() -> None:
    assert normalize_open("1,250.499") == [1250.5]
    assert mmmu.extract_numbers("1,234 and 5e-3 and 7.5") == ["1,234", "5e-3", "234", "-3", "7.5"]
    example = examples_by_id()["validation_Accounting_2"]
    assert BENCHMARK.score("The break-even quantity is 1250.499 units.", example).score == 1.0
    assert BENCHMARK.score("The break-even quantity is 1,250.5", example).score == 1.0
    assert BENCHMARK.score("so it is \\boxed{1250.5}", example).score == 1.0
    assert BENCHMARK.score("The break-even quantity is 1250.6 units.", example).score == 0.0


def test_open_strings_are_normalized_and_lists_accept_any_gold() -> None:
    examples = examples_by_id()
    assert BENCHMARK.score("The transformation is a REFLECTION.", examples["validation_Math_4"]).score == 1.0
    assert BENCHMARK.score("It is a rotation.", examples["validation_Math_4"]).score == 0.0
    assert BENCHMARK.score("So the ratio is 3.4286", examples["validation_Math_3"]).score == 1.0
    assert BENCHMARK.score("So the ratio is 24/7", examples["validation_Math_3"]).score == 1.0
    assert open_match(["C"], parse_open("option c")) and not open_match(["C"], parse_open("occur"))


def test_huge_untrusted_response_is_bounded() -> None:
    example = examples_by_id()["validation_Math_4"]
    start = time.perf_counter()
    scored = BENCHMARK.score("((((" * 250_000 + " so the answer is reflection", example)
    assert time.perf_counter() - start < 5 and scored.score == 1.0
