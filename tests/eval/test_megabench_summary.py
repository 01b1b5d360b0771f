"""MEGA-Bench's official aggregation: Core / Open-ended / overall and keyword statistics, on hand-made task results
and, where the public repository's mirror is present, on its published per-task results."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest

from rethinker.eval.suites._source import BenchmarkDataError
from rethinker.eval.suites.megabench.metrics.table import not_scored_reason
from rethinker.eval.suites.megabench.parsing import Parser
from rethinker.eval.suites.megabench.summary import (
    TaskResult,
    compare_summaries,
    keyword_stats,
    model_summary,
    official_summary,
    read_task_results,
    reproduce_published,
    set_stats,
    tasks_from_scored_queries,
)

MIRROR = Path("/work/.mirror/TIGER-AI-Lab+MEGA-Bench/repo")
PUBLISHED = ("Gemini-2.0-1206", "Gemini_2_5_pro_exp_03_25", "Qwen2_VL_7B")
RESULTS = [
    TaskResult("count_cars", 0.5, "rule", 1, 10),
    TaskResult("read_sign", 1.0, "rule", 0, 4),
    TaskResult("describe", 0.25, "llm", 1, 6),
    TaskResult("skipped", -1, "rule", 1, 3),
]
META = {
    "count_cars": {"skills": ["Counting", "Perception"], "app": "Perception", "num_input": "1-image"},
    "read_sign": {"skills": ["OCR"], "app": "Perception", "num_input": "1-image"},
    "describe": {"skills": ["Perception"], "app": "Language", "num_input": "video"},
    "skipped": {"skills": ["Counting"], "app": "Perception"},
}


def test_core_and_open_are_macro_means_and_overall_weighs_them_by_task_count() -> None:
    summary = model_summary(RESULTS[:3])
    assert summary["core"] == {"num_eval_tasks": 2, "num_eval_samples": 14, "macro_mean_score": 0.75}
    assert summary["open"] == {"num_eval_tasks": 1, "num_eval_samples": 6, "macro_mean_score": 0.25}
    assert summary["overall_score"] == pytest.approx((0.75 * 2 + 0.25) / 3)
    assert model_summary(RESULTS[:2])["overall_score"] is None


def test_keyword_stats_count_tasks_samples_with_demo_and_skip_unevaluated_tasks() -> None:
    stats = keyword_stats(RESULTS, META)
    assert stats["skills"]["Counting"] == {"count": 1, "num_samples": 11, "average_score": 0.5}
    assert stats["skills"]["Perception"] == {"count": 2, "num_samples": 18, "average_score": 0.375}
    assert stats["app"]["Perception"]["count"] == 2 and stats["input_num"]["video"]["num_samples"] == 7
    assert stats["output_format"] == {}


def test_only_tasks_in_the_metadata_count_and_differences_are_listed() -> None:
    ours = official_summary([*RESULTS[:3], TaskResult("unknown_task", 0.0, "rule", 0, 5)], META)
    assert ours["model_summary"]["core"]["num_eval_tasks"] == 2
    keywords = json.loads(json.dumps(ours["keyword_stats"]))
    published = {"model_summary": {"model_summary": ours["model_summary"]}, "keyword_stats": keywords}
    assert compare_summaries(ours, published) == []
    published["keyword_stats"]["skills"]["OCR"]["average_score"] = 0.9
    assert compare_summaries(ours, published) == ["keyword_stats/skills/OCR/average_score: 1.0 != 0.9"]


def test_a_bad_task_results_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "task_results.json"
    path.write_text(json.dumps([{"name": "a", "score": 1, "eval_type": "rule", "num_query": 2}, {"name": "b"}]))
    with pytest.raises(BenchmarkDataError, match="task_results.json entry 1"):
        read_task_results(path)


def _show(path: str, target: Path) -> Path:
    target.write_bytes(
        subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:{path}"], check=True, capture_output=True).stdout
    )
    return target


@pytest.mark.parametrize("model", PUBLISHED)
def test_published_summaries_are_reproduced_from_published_task_results(model: str, tmp_path: Path) -> None:
    if not MIRROR.exists():
        pytest.skip(f"the public MEGA-Bench repository mirror is not at {MIRROR}")
    analysis = f"megabench/results/{model}/analysis"
    checked, differences = reproduce_published(
        _show(f"{analysis}/task_results.json", tmp_path / "task_results.json"),
        _show("megabench/all_task_meta.json", tmp_path / "all_task_meta.json"),
        _show(f"{analysis}/summary_and_keyword_stats.json", tmp_path / "summary.json"),
    )
    assert differences == [] and checked > 100


def test_task_scores_from_per_query_scores_count_not_applicable_queries_as_zero(tmp_path: Path) -> None:
    queries = [{"scores": {"query": 1.0}}, {"scores": {"query": -1}}, {"scores": {"query": 0.5}}]
    task = {"task_name": "t", "eval_type": "llm", "query_response": queries,
            "example_info": {"example_text": "", "image_paths": ["demo.png"]}}  # fmt: skip
    path = tmp_path / "data_with_scores.json"
    path.write_text(json.dumps({"data": [task]}))
    assert tasks_from_scored_queries(path) == [TaskResult("t", 0.5, "llm", 1, 3)]
    path.write_text(json.dumps({"data": [{"task_name": "t"}]}))
    with pytest.raises(BenchmarkDataError, match="data_with_scores.json task 0"):
        tasks_from_scored_queries(path)


def test_published_per_query_scores_give_the_published_task_scores(tmp_path: Path) -> None:
    if not MIRROR.exists():
        pytest.skip(f"the public MEGA-Bench repository mirror is not at {MIRROR}")
    folder = "megabench/results/SI_results/Grok-2-vision-1212"
    ours = tasks_from_scored_queries(_show(f"{folder}/data_with_scores_open.json", tmp_path / "scores.json"))
    published = {result.name: result for result in read_task_results(
        _show(f"{folder}/analysis/task_results.json", tmp_path / "task_results.json"))}  # fmt: skip
    assert len(ours) == 42
    for result in ours:
        expected = published[result.name]
        assert (result.eval_type, result.num_demo, result.num_query) == ("llm", expected.num_demo, expected.num_query)
        assert result.score == pytest.approx(expected.score, abs=1e-12)
    assert set_stats(ours)["macro_mean_score"] == pytest.approx(0.5369427320775519, abs=1e-12)


def _task_readmes() -> list[str]:
    """The text of every published task example README in the mirror (one per task), read in one git process."""
    listing = subprocess.run(["git", "-C", str(MIRROR), "ls-tree", "-r", "HEAD", "task_examples"], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    blobs = [line.split()[2] for line in listing.splitlines() if line.endswith("/README.md")]
    batch = subprocess.run(["git", "-C", str(MIRROR), "cat-file", "--batch"], input="\n".join(blobs) + "\n",
                           check=True, capture_output=True, text=True).stdout  # fmt: skip
    return batch.split("# Task:")[1:]


def test_every_published_task_uses_known_metrics_and_parsers() -> None:
    if not MIRROR.exists():
        pytest.skip(f"the public MEGA-Bench repository mirror is not at {MIRROR}")
    readmes = _task_readmes()
    assert len(readmes) == 505
    unknown = []
    for text in readmes:
        metrics = ast.literal_eval(re.search(r"\*\*Field Score Function\*\*: (\{.*\})", text).group(1))
        parser = re.search(r"\*\*Response Parse Function\*\*: (\S+)", text).group(1)
        unknown += [name for name in metrics.values() if "unknown metric" in (not_scored_reason(name) or "")]
        unknown += [] if parser in {item.value for item in Parser} else [parser]
    assert unknown == []
