"""MEGA-Bench: loading task rows with media, scoring with parsers and metrics, aggregation, oracle, console commands."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rethinker.eval.outputs import load_responses
from rethinker.eval.registry import get_benchmark
from rethinker.eval.rescore import oracle_responses, score_all
from rethinker.eval.suites._source import BenchmarkDataError
from rethinker.eval.suites.base import Benchmark
from rethinker.eval.suites.megabench import BENCHMARK, MegaBenchBenchmark
from rethinker.eval.suites.megabench.metrics.table import CONTEXT_METRICS, FIELD_METRICS
from rethinker.eval.suites.megabench.scoring import combine_fields
from rethinker.models.prompts import build_messages

FIXTURES = Path(__file__).parent / "fixtures"
DATA = FIXTURES / "megabench"
RESPONSES = FIXTURES / "megabench_responses.jsonl"

ORACLE_GOLDS: dict[str, str] = {
    "exact_str_match": "B",
    "exact_str_match_case_insensitive": "Paris",
    "simple_str_match": "New York",
    "code_result_exact_str_match": "42",
    "normalized_similarity_damerau_levenshtein": "the quick brown fox",
    "near_str_match": "Café de Flore",
    "multi_ref_phrase": "['NYC', 'New York']",
    "latex_expr_equality": "\\frac{1}{2}",
    "text_with_latex_expr_equality": "The area is $\\frac{1}{2}$ m",
    "sequence_coords_similarity": "[[0.1, 0.2], [0.3, 0.4]]",
    "number_rel_diff_ratio": "12.5",
    "positive_int_match": "7",
    "normalized_rmse": "0.42",
    "angle_seq_float_rmse": "[30, 45.5]",
    "general_single_numerical_match": "3.75",
    "boxed_single_numerical_match": "12",
    "set_equality": "['a', 'b']",
    "set_equality_case_insensitive": "['Cat', 'Dog']",
    "str_set_equality_line_break": "cat\ndog",
    "str_set_equality_comma": "cat, dog",
    "jaccard_index": "[1, 2, 3]",
    "jaccard_index_case_insensitive": "['A', 'b']",
    "set_precision": "['x', 'y']",
    "chess_move_list_jaccard_index": "['e4', 'Nf3#']",
    "sequence_equality": "[3, 1, 2]",
    "sequence_equality_case_insensitive": "['A', 'b']",
    "sequence_accuracy_case_insensitive": "['a', 'b', 3]",
    "longest_common_list_prefix_ratio": "[1, 2, 3]",
    "nbbox_iou_tuple": "[[0.1, 0.1, 0.5, 0.5]]",
    "nbbox_iou_single": "[0.1, 0.1, 0.5, 0.5]",
    "nbbox_iou_sequence": "[[0, 0, 1, 1], [0.2, 0.2, 0.4, 0.4]]",
    "xml_nbbox_iou_single": "<box>0.1, 0.2, 0.3, 0.4</box>",
    "xml_norm_point_distance": "<point>0.25, 0.75</point>",
    "xml_norm_point_in_bbox": "<point>0.5, 0.5</point>",
    "symbolic_planning_test": "(pick-up a)\n(stack a b)",
    "dict_exact_str_match_agg_recall": "{'a': '1', 'b': 'x'}",
    "dict_set_equality_agg_jaccard": "{'a': ['x', 'y'], 'b': ['z']}",
    "dict_jaccard_agg_jaccard": "{'a': ['x', 'y']}",
    "dict_nbbox_iou_tuple_agg_jaccard": "{'car': [[0, 0, 0.5, 0.5]]}",
    "dict_equality": "{'a': '1'}",
    "dict_precision": "{'a': '1', 'b': '2'}",
}


ORACLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "xml_norm_point_in_bbox": {"bounding_boxes": ["[0.4, 0.4, 0.6, 0.6]"]},
    "symbolic_planning_test": {
        "domain_pddl": (FIXTURES / "megabench_pddl" / "blocks_domain.pddl").read_text(),
        "task_pddl": (FIXTURES / "megabench_pddl" / "blocks_task.pddl").read_text(),
    },
}


def row(task: str, answer: dict[str, Any], metrics: dict[str, str], parser: str, **extra: Any) -> dict[str, Any]:
    """One hand-made task row (no media) with a mean over its fields."""
    info = {
        "field_score_function": metrics,
        "aggregation": {"function": "mean", "field_weights": dict.fromkeys(metrics, 1)},
        "response_parse_function": parser,
    }
    return {"task_name": task, "task_description": f"Solve {task}.", "query_text": "Q", "answer": str(answer),
            "metric_info": str(info), "eval_context": "{}", **extra}  # fmt: skip


def write_rows(folder: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows as one JSONL task file in `folder`, ids numbered in order."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"q{index}", **entry}) for index, entry in enumerate(rows)]
    (folder / "tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def fixture_scores(benchmark: MegaBenchBenchmark = BENCHMARK) -> tuple[list[Any], list[Any]]:
    """The fixture examples and their saved responses, scored."""
    examples = benchmark.load(DATA)
    return examples, score_all(benchmark, examples, load_responses(RESPONSES))


def test_registered_and_fulfils_the_benchmark_protocol() -> None:
    benchmark: Benchmark = get_benchmark("megabench")
    assert benchmark is BENCHMARK and "not_scored" in benchmark.EXTRACTION_NOTE


def test_task_rows_load_with_demonstration_query_media_and_video_frames() -> None:
    examples = {example.id: example for example in BENCHMARK.load(DATA)}
    assert sorted(examples) == ["1", "2", "3", "4", "5", "6"]
    color = examples["1"]
    assert color.question.endswith("Example:\n<image>\nAnswer: A\n\n<image>")
    assert [Path(image).name for image in color.images] == ["demo_red.png", "query_blue.png"]
    assert color.answer == "B" and color.metadata["num_demo"] == 1
    assert color.metadata["keywords"]["skills"] == ["Object Recognition and Classification"]
    video = examples["4"]
    assert video.question.endswith("Frames of a street: <image><image><image>")
    assert [Path(image).name for image in video.images] == [f"frame_00{index}.png" for index in range(3)]
    assert json.loads(video.answer) == {"boxes": "[[0.2, 0.2, 0.6, 0.6]]", "count": "1"}
    assert video.metadata["num_demo"] == 0 and video.metadata["keywords"]["num_input"] == "video"
    assert BENCHMARK.build_prompt(color) == color.question
    assert BENCHMARK.build_prompt(color, "{question}\nThink first.").endswith("Think first.")


def test_chat_messages_place_demonstration_query_and_frame_images_in_order() -> None:
    examples = {example.id: example for example in BENCHMARK.load(DATA)}
    kinds = []
    for key in ("1", "4"):
        messages = build_messages(examples[key], "plain", question=BENCHMARK.build_prompt(examples[key]))
        kinds.append([part["type"] for part in messages[-1]["content"]])
    assert kinds[0] == ["text", "image", "text", "image"]
    assert kinds[1] == ["text", "image", "image", "image"]


def test_parquet_rows_with_list_columns(tmp_path: Path) -> None:
    entry = row("toy", {"x": "1"}, {"x": "exact_str_match"}, "answer_string", id="p0")
    entry |= {"query_media": [], "global_media": [], "example_media": [], "example_text": ""}
    pq.write_table(pa.Table.from_pylist([entry]), tmp_path / "test-00000-of-00001.parquet")
    (example,) = BENCHMARK.load(tmp_path)
    assert example.id == "p0" and example.answer == "1" and example.images == ()


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"query_text": "<image> and <image>", "query_media": "['a.png']"}, ["field 'query_media'", "2 <image>"]),
        ({"query_text": "<image>", "query_media": "['missing.png']"}, ["field 'query_media'", "missing.png"]),
        ({"query_text": "<video>", "query_media": "['clip.mp4']"}, ["field 'query_media'", "clip.mp4"]),
        ({"answer": "['not', 'a', 'dict']"}, ["field 'answer'", "expected a dict"]),
        ({"metric_info": "{'field_score_function': {'x': 'exact_str_match'}}"}, ["field 'metric_info'", "mean, min"]),
        ({"metric_info": "{broken"}, ["field 'metric_info'", "not a dict literal"]),
        (
            {
                "metric_info": '{"field_score_function": {"x": "exact_str_match"}, "aggregation": {"function": "mean", '
                '"field_weights": {"x": NaN}}, "response_parse_function": "answer_string"}'
            },
            ["field 'metric_info'", "finite numbers"],
        ),
    ],
)
def test_bad_rows_are_one_line_errors_naming_file_row_and_field(
    tmp_path: Path, change: dict[str, str], fragments: list[str]
) -> None:
    entry = row("toy", {"x": "1"}, {"x": "exact_str_match"}, "answer_string") | change
    folder = write_rows(tmp_path, [row("fine", {"x": "1"}, {"x": "exact_str_match"}, "answer_string"), entry])
    with pytest.raises(BenchmarkDataError) as raised:
        BENCHMARK.load(folder)
    message = str(raised.value)
    assert "\n" not in message and "tasks.jsonl row 1" in message
    for fragment in fragments:
        assert fragment in message


def test_limit_and_repeated_ids(tmp_path: Path) -> None:
    entry = row("toy", {"x": "1"}, {"x": "exact_str_match"}, "answer_string")
    folder = write_rows(tmp_path, [entry, entry, entry])
    assert [example.id for example in BENCHMARK.load(folder, limit=2)] == ["q0", "q1"]
    (tmp_path / "more.jsonl").write_text(json.dumps({"id": "q1", **entry}) + "\n")
    with pytest.raises(BenchmarkDataError, match="tasks.jsonl row 1: id 'q1' repeats .*more.jsonl row 0"):
        BENCHMARK.load(folder)


def test_video_without_extracted_frames_names_the_frames_folder(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"")
    entry = row("toy", {"x": "1"}, {"x": "exact_str_match"}, "answer_string", query_text="<video>")
    with pytest.raises(BenchmarkDataError, match="frames extracted"):
        BENCHMARK.load(write_rows(tmp_path, [entry | {"query_media": "['clip.mp4']"}]))


def test_saved_responses_are_scored_and_unscorable_tasks_reported_not_zeroed() -> None:
    examples, scored = fixture_scores()
    by_id = {sample.id: sample for sample in scored}
    assert (by_id["1"].score, by_id["2"].score) == (1.0, 0.0)
    assert by_id["3"].rule == "json" and by_id["3"].details["fields"] == {"boxes": 1.0, "count": 1.0}
    assert by_id["5"].rule == by_id["6"].rule == "not_scored"
    assert "LLM judge" in by_id["5"].details["not_scored"]["caption"]
    results = BENCHMARK.aggregate(examples, scored)
    assert results["core"] == {"accuracy": 75.0, "correct": 1.5, "total": 2, "queries": 4}
    assert results["open_ended"] is None and results["overall"] is None
    assert sorted(results["not_scored"]["tasks"]) == ["toy_caption_open", "toy_code_program"]
    assert results["not_scored"]["query_count"] == 2
    assert results["by_task"]["toy_color_choice"]["accuracy"] == 50.0
    assert results["by_output_format"]["multiple_choice"] == {
        "accuracy": 50.0,
        "correct": 0.5,
        "total": 1,
        "samples": 3,
    }
    assert results["by_skills"]["Object Recognition and Classification"]["total"] == 2


def test_a_judge_hook_scores_the_open_ended_tasks_and_gives_the_overall_score() -> None:
    calls: list[tuple[str, Any]] = []

    def judge(metric: str, example: Any, response: Any, gold: Any) -> float:
        calls.append((metric, response))
        return 0.5

    examples, scored = fixture_scores(BENCHMARK.with_judge(judge))
    results = BENCHMARK.aggregate(examples, scored)
    assert calls == [("gpt_4o_as_judge", "A grey square.")]
    assert results["open_ended"]["accuracy"] == 50.0
    assert results["overall"]["accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3 * 100, abs=0.01)
    assert list(results["not_scored"]["tasks"]) == ["toy_code_program"]


def test_a_failing_judge_leaves_the_task_not_scored() -> None:
    def judge(metric: str, example: Any, response: Any, gold: Any) -> float:
        raise TimeoutError("endpoint down")

    examples, scored = fixture_scores(BENCHMARK.with_judge(judge))
    results = BENCHMARK.aggregate(examples, scored)
    assert results["open_ended"] is None
    assert "the judge failed (TimeoutError: endpoint down)" in results["not_scored"]["tasks"]["toy_caption_open"]


def test_unparsable_json_is_scored_on_the_raw_text_and_counted(tmp_path: Path) -> None:
    folder = write_rows(tmp_path, [row("toy", {"x": "cat"}, {"x": "simple_str_match"}, "json")])
    (example,) = BENCHMARK.load(folder)
    sample = BENCHMARK.score("cat", example)
    assert sample.rule == "json_failed" and sample.score == 1.0


def test_a_metric_failing_on_odd_input_scores_zero_and_is_counted(tmp_path: Path) -> None:
    entry = row("toy", {"x": "<point>0.5, 0.5</point>"}, {"x": "xml_norm_point_in_bbox"}, "json",
                eval_context="{'bounding_boxes': 5}")  # fmt: skip
    examples = BENCHMARK.load(write_rows(tmp_path, [entry]))
    (sample,) = score_all(BENCHMARK, examples, oracle_responses(BENCHMARK, examples))
    assert sample.score == 0.0 and "TypeError" in sample.details["metric_errors"]["x"]
    assert BENCHMARK.aggregate(examples, [sample])["metric_error_queries"] == 1


def test_fields_combine_by_weighted_mean_or_minimum_skipping_not_applicable() -> None:
    mean = {"function": "mean", "field_weights": {"a": 3, "b": 1, "c": 1}}
    assert combine_fields({"a": 1.0, "b": 0.0, "c": -1.0}, mean) == 0.75
    assert combine_fields({"a": 0.2, "b": 0.9, "c": -1.0}, {"function": "min"}) == 0.2
    assert combine_fields({"c": -1.0}, mean) == 0.0


def test_oracle_gold_answers_score_one_on_every_rule_metric_with_both_parsers(tmp_path: Path) -> None:
    assert set(ORACLE_GOLDS) == set(FIELD_METRICS) | set(CONTEXT_METRICS)
    rows = []
    for metric, gold in ORACLE_GOLDS.items():
        context = ORACLE_CONTEXTS.get(metric, {})
        for parser in ("answer_string", "json"):
            entry = row(f"{metric}_{parser}", {"answer": gold}, {"answer": metric}, parser, eval_context=str(context))
            rows.append(entry)
    rows.append(row("two_fields", {"a": "1", "b": "[1, 2]"}, {"a": "exact_str_match", "b": "set_equality"}, "json"))
    examples = BENCHMARK.load(write_rows(tmp_path, rows))
    scored = score_all(BENCHMARK, examples, oracle_responses(BENCHMARK, examples))
    failures = {sample.details["task"]: sample.extracted for sample in scored if sample.score != 1.0}
    assert failures == {}
    results = BENCHMARK.aggregate(examples, scored)
    assert results["core"]["accuracy"] == 100.0 and results["core"]["total"] == len(rows)


def test_pathological_responses_are_scored_quickly_without_full_marks(tmp_path: Path) -> None:
    rows = [row(f"t_{metric}", {"answer": gold}, {"answer": metric}, "json") for metric, gold in ORACLE_GOLDS.items()]
    examples = BENCHMARK.load(write_rows(tmp_path, rows))
    started = time.perf_counter()
    full_marks = set()
    nasty = (
        "[" * 100_000,
        "{'answer': " + "[" * 5_000 + "]" * 5_000 + "}",
        "x" * 200_000,
        '{"answer": ' + "9" * 5_000 + "}",
    )
    for response in nasty:
        full_marks |= {
            example.metadata["task_name"] for example in examples if BENCHMARK.score(response, example).score == 1.0
        }
    assert time.perf_counter() - started < 20
    assert full_marks == {"t_set_precision"}, "officially, precision of an empty prediction is 1"


def test_score_command_scores_saved_responses(rethinker_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = rethinker_cli("score", "--benchmark", "megabench", "--data", str(DATA), "--responses", str(RESPONSES),
                           "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["core"]["accuracy"] == 75.0 and results["not_scored"]["task_count"] == 2
    assert results["rules"] == {"answer_string": 2, "json": 2, "not_scored": 2}
    assert len((out / "samples.jsonl").read_text().splitlines()) == 6
    assert "| core | 75.0 | 1.5 | 2 |" in (out / "results.md").read_text()


def test_score_command_reports_a_bad_row_in_one_line(rethinker_cli, user_error, tmp_path: Path) -> None:
    entry = row("toy", {"x": "1"}, {"x": "exact_str_match"}, "answer_string", query_text="<image>")
    folder = write_rows(tmp_path / "data", [entry])
    result = rethinker_cli("score", "--benchmark", "megabench", "--data", str(folder), "--responses", str(RESPONSES),
                           "--out", str(tmp_path / "out"))  # fmt: skip
    user_error(result, "tasks.jsonl row 0", "query_media")


def test_eval_command_runs_the_tiny_model_on_the_task_folder(rethinker_cli, tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = rethinker_cli("eval", "--model", str(tiny_dir), "--benchmark", "megabench", "--data", str(DATA),
                           "--out", str(out), "--max-new-tokens", "4", "--limit", "4")  # fmt: skip
    assert result.returncode == 0, result.stderr
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [sample["id"] for sample in samples] == ["1", "2", "3", "4"]
    assert all(sample["details"]["prompt_tokens"] > 0 and sample["details"]["scored"] for sample in samples)
    results = json.loads((out / "results.json").read_text())
    assert results["core"]["total"] == 2 and results["counts"]["generated"] == 4


def test_random_responses_never_raise_and_stay_in_range(tmp_path: Path) -> None:
    pieces = [*"{}[]()\"',:;\\$<>/-.0123456789eE+aB#!*`_\n ", "Answer:", "**Answer:**", "```json", "```", "nan"]
    pieces += ["<point>", "</point>", "<box>", "</box>", "\\frac{", "\\boxed{", "9" * 5_000, "(pick-up a)", "</think>"]
    rows = [row(f"{metric}_{parser}", {"answer": gold}, {"answer": metric}, parser,
                eval_context=str(ORACLE_CONTEXTS.get(metric, {})))
            for metric, gold in ORACLE_GOLDS.items() for parser in ("answer_string", "json")]  # fmt: skip
    examples = BENCHMARK.load(write_rows(tmp_path, rows))
    generator = random.Random(0)
    for _ in range(8):
        response = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 120)))
        for example in examples:
            assert 0.0 <= BENCHMARK.score(response, example).score <= 1.0
