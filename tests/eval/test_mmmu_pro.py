"""MMMU-Pro: both settings, 10 options, images in prompt order, official prompts and letter parsing, the overall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rethinker.eval.suites._choice import parse_choice
from rethinker.eval.suites.base import Benchmark
from rethinker.eval.suites.mmmu_pro import BENCHMARK, STANDARD_4, STANDARD_10, VISION, MMMUProBenchmark
from rethinker.models.prompts import build_messages

FIXTURE = Path(__file__).parent / "fixtures" / "mmmu_pro"
TEN = [f"option {index}" for index in range(10)]


def examples_by_id() -> dict[str, object]:
    """Both settings of the fixture, by example id."""
    return {example.id: example for example in BENCHMARK.load(FIXTURE)}


def test_module_fulfils_the_benchmark_protocol() -> None:
    benchmark: Benchmark = BENCHMARK
    assert benchmark.NAME == "mmmu_pro" and "mean of the standard (10 options) and vision" in benchmark.EXTRACTION_NOTE


def test_both_settings_load_with_setting_prefixed_ids() -> None:
    examples = examples_by_id()
    assert sorted(examples) == [
        "standard (10 options)/test_Art_2",
        "standard (10 options)/test_History_1",
        "vision/test_Art_2",
        "vision/test_History_1",
    ]
    assert {example.metadata["setting"] for example in examples.values()} == {STANDARD_10, VISION}
    assert all(len(example.choices) == 10 for example in examples.values())
    assert examples["vision/test_Art_2"].metadata["source_id"] == "test_Art_2"


def test_shuffled_option_images_follow_the_prompt_order() -> None:
    art = examples_by_id()["standard (10 options)/test_Art_2"]
    assert art.choices[:2] == ("<image>", "<image>")
    assert [Path(image).name for image in art.images] == ["test_Art_2_2.png", "test_Art_2_1.png"]
    assert BENCHMARK.build_prompt(art).count("<image>") == 2


def test_official_prompts_per_setting_and_mode() -> None:
    examples = examples_by_id()
    standard = BENCHMARK.build_prompt(examples["standard (10 options)/test_History_1"])
    assert standard.startswith("Which of the following best explains the trend shown in the <image>?\nA. Political")
    assert "\nJ. Religious conflict\nAnswer the preceding multiple choice question." in standard
    vision = examples["vision/test_History_1"]
    assert vision.question == "" and len(vision.images) == 1
    assert BENCHMARK.build_prompt(vision).startswith("Write out the multiple-choice question in the image")
    direct = MMMUProBenchmark(mode="direct")
    assert direct.build_prompt(examples["standard (10 options)/test_History_1"]).endswith(
        "J. Religious conflict\nAnswer with the option letter from the given choices directly."
    )
    templated = BENCHMARK.build_prompt(vision, "{question}\n\nUse \\boxed{{}}.")
    assert templated == "Write out the multiple-choice question in the image and then solve it.\n\nUse \\boxed{}."
    with pytest.raises(ValueError, match="prompt mode"):
        MMMUProBenchmark(mode="fast")


def test_setting_is_read_from_columns_outside_setting_folders(tmp_path: Path) -> None:
    image = FIXTURE / "images" / "vision_test_Art_2.png"
    rows = [
        {"id": "test_Art_9", "image": str(image), "options": str(TEN), "answer": "E", "subject": "Art"},
    ]
    (tmp_path / "vision_rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    four = {"id": "test_Art_9", "question": "Pick one.", "options": "['a', 'b', 'c', 'd']", "answer": "D",
            "subject": "Art"}  # fmt: skip
    (tmp_path / "four.json").write_text(json.dumps([four]))
    assert BENCHMARK.load(tmp_path / "vision_rows.jsonl")[0].metadata["setting"] == VISION
    assert BENCHMARK.load(tmp_path / "four.json")[0].metadata["setting"] == STANDARD_4


def test_a_gold_letter_outside_the_options_is_a_data_error(tmp_path: Path) -> None:
    row = {"id": "x_1", "question": "q", "options": "['a', 'b']", "answer": "K", "subject": "Art"}
    (tmp_path / "bad.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl row 0 field 'answer'"):
        BENCHMARK.load(tmp_path / "bad.jsonl")


def test_oracle_gold_letters_score_full_marks() -> None:
    examples = list(examples_by_id().values())
    report = BENCHMARK.aggregate(examples, [BENCHMARK.score(example.answer, example) for example in examples])
    assert report["overall"]["accuracy"] == 100.0
    assert report["by_setting"][VISION]["total"] == 2
    assert report["by_subject"][STANDARD_10]["Art"]["accuracy"] == 100.0


def test_overall_is_the_mean_of_the_two_headline_settings() -> None:
    examples = examples_by_id()
    responses = {
        "standard (10 options)/test_History_1": "Answer: B",
        "standard (10 options)/test_Art_2": "Answer: J",
        "vision/test_History_1": "Answer: A",
    }
    scored = [BENCHMARK.score(text, examples[example_id]) for example_id, text in responses.items()]
    report = BENCHMARK.aggregate(list(examples.values()), scored)
    assert report["by_setting"][STANDARD_10]["accuracy"] == 100.0 and report["by_setting"][VISION]["accuracy"] == 0.0
    assert report["overall"]["accuracy"] == 50.0
    assert report["pooled"]["accuracy"] == 66.67
    assert report["by_discipline"][VISION] == {
        "Humanities and Social Science": {"accuracy": 0.0, "correct": 0, "total": 1}
    }


def test_ten_option_letters_and_official_parsing_rules() -> None:
    history = examples_by_id()["standard (10 options)/test_History_1"]
    assert BENCHMARK.score("Step by step... so the pathogens did it.\nAnswer: J", history).extracted == "J"
    assert BENCHMARK.score("I'd say the answer is (B).", history).score == 1.0
    assert BENCHMARK.score("\\boxed{B}", history).rule == "boxed"
    assert BENCHMARK.score("Trade spread disease. Answer: The spread of pathogens along trade routes", history).score
    assert parse_choice("I pick I.", TEN, pro=True) == "I"
    assert parse_choice("Answer: maybe C or D", TEN, pro=True) == "D"
    assert parse_choice("Answer: C", TEN, pro=True) == "C"


def test_random_fallback_is_reproducible_per_example() -> None:
    history = examples_by_id()["vision/test_History_1"]
    first, second = (BENCHMARK.score("no idea", history) for _ in range(2))
    assert first.rule == "random_fallback" and first.extracted == second.extracted
    assert first.extracted in "ABCDEFGHIJ"


def test_chat_messages_place_one_image_per_placeholder() -> None:
    art = examples_by_id()["standard (10 options)/test_Art_2"]
    messages = build_messages(art, "default", question=BENCHMARK.build_prompt(art, "{question}"))
    kinds = [part["type"] for part in messages[-1]["content"]]
    assert kinds.count("image") == len(art.images) == 2
    assert kinds[:4] == ["text", "image", "text", "image"]
