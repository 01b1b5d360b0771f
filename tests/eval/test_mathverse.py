"""MathVerse: testmini files and parquet, the official queries, the rule-based judge, per-version aggregation."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rethinker.eval.suites.base import Benchmark
from rethinker.eval.suites.mathverse import (
    BENCHMARK,
    MathVerseBenchmark,
    choice_match,
    choices_in,
    free_form_match,
    normalize_free_form,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mathverse"


def examples_by_id() -> dict[str, object]:
    """The five-version fixture examples by id."""
    return {example.id: example for example in BENCHMARK.load(FIXTURE / "testmini.json")}


def test_module_fulfils_the_benchmark_protocol() -> None:
    benchmark: Benchmark = BENCHMARK
    assert benchmark.NAME == "mathverse" and "GPT" in benchmark.EXTRACTION_NOTE


def test_testmini_json_loads_versions_images_and_choices() -> None:
    examples = examples_by_id()
    assert sorted(examples, key=int) == ["1", "2", "3", "4", "5", "6", "7"]
    first = examples["1"]
    assert first.metadata["problem_version"] == "Text Dominant" and first.metadata["subfield"] == "Angle"
    assert Path(first.images[0]).relative_to(FIXTURE) == Path("images_version_1-4/image_1.png")
    assert first.choices == ("40°", "60°", "120°", "140°")
    assert Path(examples["3"].images[0]).parent.name == "images_version_5"
    assert examples["4"].choices == ()


def test_text_only_file_has_no_image_and_distinct_ids() -> None:
    (text_only,) = BENCHMARK.load(FIXTURE / "testmini_text_only.json")
    assert text_only.id == "text-only-1" and text_only.images == ()
    both = BENCHMARK.load(FIXTURE)
    assert len({example.id for example in both}) == len(both) == 8


def test_parquet_with_embedded_image_and_metadata_struct(tmp_path: Path) -> None:
    rows = json.loads((FIXTURE / "testmini.json").read_text())
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    for row in rows:
        row["image"] = {"bytes": buffer.getvalue(), "path": row["image"]}
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "testmini.parquet")
    examples = BENCHMARK.load(tmp_path / "testmini.parquet", limit=3)
    assert [example.id for example in examples] == ["1", "2", "3"]
    assert examples[0].images == (buffer.getvalue(),) and examples[0].metadata["subject"] == "Plane Geometry"


def test_official_queries_and_template() -> None:
    examples = examples_by_id()
    assert BENCHMARK.build_prompt(examples["1"]).startswith("Please first conduct reasoning")
    assert MathVerseBenchmark(query="query_wo").build_prompt(examples["1"]).startswith("Please directly answer")
    templated = BENCHMARK.build_prompt(examples["4"], "{question}\n\nBox it.")
    assert templated.startswith("A can has a height of 13 cm") and templated.endswith("Box it.")
    vision_only = BENCHMARK.build_prompt(examples["3"], "{question}\n\nBox it.")
    assert vision_only.startswith("Please first conduct reasoning") and vision_only.endswith("Box it.")
    with pytest.raises(ValueError, match="query"):
        MathVerseBenchmark(query="query")


def test_oracle_gold_answers_score_full_marks() -> None:
    examples = BENCHMARK.load(FIXTURE)
    report = BENCHMARK.aggregate(examples, [BENCHMARK.score(example.answer, example) for example in examples])
    assert report["overall"] == {"accuracy": 100.0, "correct": 7, "total": 7}
    assert report["overall_scope"] == "five main versions"
    assert report["by_version"]["Text Only"]["total"] == 1


def test_overall_leaves_text_only_apart_and_breaks_down_per_version() -> None:
    examples = BENCHMARK.load(FIXTURE)
    wrong = {"text-only-1", "2"}
    scored = [BENCHMARK.score("\\boxed{A}" if e.id in wrong else e.answer, e) for e in examples]
    report = BENCHMARK.aggregate(examples, scored)
    assert report["overall"] == {"accuracy": 85.71, "correct": 6, "total": 7}
    assert report["by_version"]["Text Lite"] == {"accuracy": 50.0, "correct": 1, "total": 2}
    assert report["by_version"]["Text Only"]["accuracy"] == 0.0
    assert report["by_subfield"]["Solid Geometry/Length"]["accuracy"] == 100.0
    text_only_alone = BENCHMARK.aggregate(examples, [s for s in scored if s.id == "text-only-1"])
    assert text_only_alone["overall_scope"] == "all loaded samples" and text_only_alone["overall"]["total"] == 1


def test_multiple_choice_judge() -> None:
    first = examples_by_id()["1"]
    assert BENCHMARK.score("Angle CED = 180 - 40 = 140.\nThe answer is D.", first).score == 1.0
    assert BENCHMARK.score("so \\boxed{140^\\circ}", first).score == 1.0
    assert BENCHMARK.score("\\boxed{C: 120°}", first).score == 0.0
    assert BENCHMARK.score("\\boxed{C or D}", first).score == 0.0
    assert choice_match("C", "B:2\\sqrt{3}", ["2", "2\\sqrt{3}", "\\sqrt{3}"]) == (False, "leading_letter")
    assert choice_match("(C)", "C", []) == (True, "letters")
    assert choice_match("False", "False", []) is None


def test_several_gold_letters_need_all_of_them() -> None:
    several = examples_by_id()["7"]
    assert BENCHMARK.score("\\boxed{C, D}", several).score == 1.0
    assert BENCHMARK.score("\\boxed{D and C}", several).score == 1.0
    assert BENCHMARK.score("\\boxed{C}", several).score == 0.0


def test_free_form_judge() -> None:
    examples = examples_by_id()
    assert BENCHMARK.score("L = sqrt(205) ≈ 14.3178, so \\boxed{14.32}", examples["4"]).score == 1.0
    assert BENCHMARK.score("\\boxed{14.32 cm}", examples["5"]).score == 1.0
    assert BENCHMARK.score("\\boxed{14.3}", examples["5"]).score == 0.0
    assert BENCHMARK.score("\\boxed{\\frac{25\\pi}{4}\\text{ mm}^2}", examples["6"]).score == 1.0
    assert BENCHMARK.score("\\boxed{6.25\\pi}", examples["6"]).score == 1.0
    assert free_form_match("14.32", "14.3178") == (True, "number")
    assert free_form_match("14", "14.3") == (False, "number")
    assert free_form_match("\\frac{\\sqrt{30}}{2}", "\\sqrt{7.5}") == (True, "math")
    assert normalize_free_form("Area $=113.1 \\mathrm{~cm}^{2}$") == "113.1"
    assert normalize_free_form("118掳T") == normalize_free_form("118^\\circ T") == "118t"
    assert normalize_free_form("\\[g(x)=(x + 4)^2 - 5\\].") == "(x+4)^2-5"
    assert normalize_free_form("Surface area $=2 \\pi r$ square units") == "2\\pir"
    assert free_form_match("When x<=3 $f(x)=-x+1$, when x>3, $f(x)=x-5$", "When x<=3 f(x)=-x+1, when x>3, f(x)=x-5")[0]
    assert choices_in("Q\nChoices:\nA:1\nB:\\frac{1}{2}") == ("1", "\\frac{1}{2}")


def test_empty_and_pathological_responses_score_zero_within_bounds() -> None:
    example = examples_by_id()["4"]
    assert BENCHMARK.score("", example).rule == "no_answer"
    start = time.perf_counter()
    scored = BENCHMARK.score("\\boxed{10^{10^{10^{10}}}}", example)
    assert scored.score == 0.0 and time.perf_counter() - start < 10
    long = BENCHMARK.score("word " * 200_000, example)
    assert long.score == 0.0 and long.rule == "last_line" and len(long.extracted) <= 300
