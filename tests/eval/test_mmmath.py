"""MM-Math: loading the published layout, the official boxed-answer judge, the oracle self-test, the breakdowns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from rethinker.eval.registry import get_benchmark
from rethinker.eval.rescore import oracle_responses, score_all
from rethinker.eval.suites.mmmath import (
    BENCHMARK,
    answers_match,
    boxed_contents,
    clean,
    split_top_level,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmmath"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The fixture with its images drawn into `images/`, as the published folder holds them."""
    target = tmp_path / "mmmath"
    shutil.copytree(FIXTURE, target)
    (target / "images").mkdir()
    for record in json.loads((target / "mmmath.json").read_text(encoding="utf-8")).values():
        Image.new("RGB", (56, 56), (200, 120, 40)).save(target / "images" / record["file_name"])
    return target / "mmmath.json"


def test_registered_and_loaded_with_gold_from_the_solution_boxes(data: Path) -> None:
    assert get_benchmark("mmmath") is BENCHMARK
    examples = BENCHMARK.load(data)
    assert [example.id for example in examples] == [f"mm{i}" for i in range(6)]
    assert [example.answer for example in examples][:4] == ["70", "k=3", "\\pm 3", "10,13"]
    assert all(isinstance(example.images[0], Path) and example.images[0].is_file() for example in examples)
    assert (examples[0].metadata["difficulty"], examples[0].metadata["grade"]) == ("easy", "eight")
    assert "\\boxed{}" in BENCHMARK.build_prompt(examples[0])


def test_oracle_responses_score_one(data: Path) -> None:
    examples = BENCHMARK.load(data)
    scored = score_all(BENCHMARK, examples, oracle_responses(BENCHMARK, examples))
    assert [sample.score for sample in scored] == [1.0] * len(examples)
    results = BENCHMARK.aggregate(examples, scored)
    assert results["overall"] == {"accuracy": 100.0, "correct": 6, "total": 6}
    assert set(results["difficulty"]) == {"easy", "medium", "hard"}
    assert results["knowledge"]["Functions"]["total"] == 2


@pytest.mark.parametrize(
    ("gold", "predicted", "expected"),
    [
        ("70", "70.004", True),
        ("70", "71", False),
        ("0.25", "25", True),
        ("\\pm 3", "-3, 3", True),
        ("\\pm 3", "3", False),
        ("10,13", "13,10", True),
        ("k=3", "3", True),
        ("\\frac{3}{8}", "0.375", True),
        ("\\sqrt{5}", "\\sqrt{4}", False),
        ("\\sqrt{5}", "2.236", True),
        ("4\\pi", "12.566", True),
        ("4\\pi", "4", False),
        ("y=2x+1", "y=1+2x", True),
        ("(1,2)", "(1,2)", True),
    ],
)
def test_official_judge_rules(gold: str, predicted: str, expected: bool) -> None:
    assert answers_match(clean(gold), clean(predicted)) is expected


def test_a_response_without_a_box_is_wrong_and_units_are_dropped(data: Path) -> None:
    examples = BENCHMARK.load(data)
    assert BENCHMARK.score("The angle is 70 degrees.", examples[0]).rule == "no_box"
    assert BENCHMARK.score("So $\\boxed{70^\\circ}$", examples[0]).score == 1.0
    assert BENCHMARK.score("$\\boxed{10\\text{cm}^2}$ and $\\boxed{13 cm}$", examples[3]).score == 1.0
    assert boxed_contents("\\boxed{\\frac{1}{2}} and \\boxed{3") == ["\\frac{1}{2}"]
    assert split_top_level("(1,2),[3,4]") == ["(1,2)", "[3,4]"]


def test_a_solution_without_a_boxed_answer_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"question": "q", "file_name": "", "solution": "no box"}]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.json row 0 field 'solution'.*no \\boxed"):
        BENCHMARK.load(path)
