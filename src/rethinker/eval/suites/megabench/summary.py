"""The official MEGA-Bench aggregation: per-task mean scores, Core / Open-ended macro means, the overall score, and
per-keyword breakdowns (skills, input format, output format, number of inputs, application).

Core tasks are those scored by rules; Open-ended tasks are those with an LLM-judged field. The overall score is the
mean over all tasks (Core and Open weighted by their task counts), defined only when both sets are scored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rethinker.eval.suites._source import BenchmarkDataError

KEYWORD_GROUPS = {
    "skills": "skills",
    "input_format": "input_format",
    "output_format": "output_format",
    "input_num": "num_input",
    "app": "app",
}
"""Breakdown name in the official summary -> keyword field of the task metadata."""
CORE, OPEN = "core", "open"


@dataclass(frozen=True)
class TaskResult:
    """One task's result as the official `task_results.json` records it."""

    name: str
    score: float
    eval_type: str
    num_demo: int
    num_query: int


def task_set(result: TaskResult) -> str:
    """The task set of a result: "open" with an LLM-judged field, else "core"."""
    return OPEN if result.eval_type == "llm" else CORE


def set_stats(results: Sequence[TaskResult]) -> dict[str, Any] | None:
    """Task count, query count and macro mean (mean of task scores) of a task set, or None when it is empty."""
    if not results:
        return None
    return {
        "num_eval_tasks": len(results),
        "num_eval_samples": sum(result.num_query for result in results),
        "macro_mean_score": sum(result.score for result in results) / len(results),
    }


def model_summary(results: Sequence[TaskResult]) -> dict[str, Any]:
    """Core and Open-ended statistics and the overall score (None unless both sets have tasks)."""
    core = set_stats([result for result in results if task_set(result) == CORE])
    open_ended = set_stats([result for result in results if task_set(result) == OPEN])
    overall = None
    if core and open_ended:
        weighted = core["macro_mean_score"] * core["num_eval_tasks"]
        weighted += open_ended["macro_mean_score"] * open_ended["num_eval_tasks"]
        overall = weighted / (core["num_eval_tasks"] + open_ended["num_eval_tasks"])
    return {CORE: core, OPEN: open_ended, "overall_score": overall}


def _keyword_values(meta: Mapping[str, Any], field: str) -> list[str]:
    value = meta.get(field)
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)] if value else []


def keyword_stats(results: Iterable[TaskResult], meta: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per keyword: number of tasks, number of samples (queries + demonstration) and mean task score.

    Tasks scored -1 (not evaluated) are left out, as officially.
    """
    totals: dict[str, dict[str, dict[str, float]]] = {group: {} for group in KEYWORD_GROUPS}
    for result in results:
        if result.score == -1:
            continue
        for group, field in KEYWORD_GROUPS.items():
            for keyword in _keyword_values(meta.get(result.name, {}), field):
                entry = totals[group].setdefault(keyword, {"count": 0, "num_samples": 0, "total": 0.0})
                entry["count"] += 1
                entry["num_samples"] += result.num_query + result.num_demo
                entry["total"] += result.score
    return {
        group: {
            keyword: {
                "count": int(entry["count"]),
                "num_samples": int(entry["num_samples"]),
                "average_score": entry["total"] / entry["count"],
            }
            for keyword, entry in entries.items()
        }
        for group, entries in totals.items()
    }


def official_summary(results: Sequence[TaskResult], meta: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The official summary of task results: only tasks present in the task metadata count, as officially."""
    known = [result for result in results if result.name in meta]
    return {"model_summary": model_summary(known), "keyword_stats": keyword_stats(known, meta)}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BenchmarkDataError(f"{path}: cannot read JSON ({error})") from error


def read_task_results(path: Path) -> list[TaskResult]:
    """The entries of an official `task_results.json` file."""
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise BenchmarkDataError(f"{path}: expected a list of task results")
    results = []
    for index, entry in enumerate(entries):
        try:
            results.append(
                TaskResult(
                    str(entry["name"]),
                    float(entry["score"]),
                    str(entry["eval_type"]),
                    int(entry.get("num_demo", 0)),
                    int(entry["num_query"]),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BenchmarkDataError(f"{path} entry {index}: missing or bad field ({error})") from error
    return results


def tasks_from_scored_queries(path: Path) -> list[TaskResult]:
    """Task results recomputed from an official per-query scores file (`data_with_scores*.json`).

    A task scores the sum of its non-negative query scores over its number of queries (a query scored -1, nothing
    applicable, counts as 0), as the official evaluator computes `mean_task_score`.
    """
    data = _read_json(path)
    tasks = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(tasks, list):
        raise BenchmarkDataError(f"{path}: expected an object with a 'data' list of tasks")
    results = []
    for index, task in enumerate(tasks):
        try:
            queries = task["query_response"]
            scores = [float(query["scores"]["query"]) for query in queries]
            demo = task["example_info"]
            num_demo = int(bool(demo["example_text"] or demo["image_paths"]))
            mean = sum(score for score in scores if score >= 0) / len(scores)
            results.append(TaskResult(str(task["task_name"]), mean, str(task["eval_type"]), num_demo, len(scores)))
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
            raise BenchmarkDataError(f"{path} task {index}: missing or bad field ({error!r})") from error
    return results


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            if key != "tasks":
                flat.update(_flatten(item, f"{prefix}/{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def compare_summaries(ours: Mapping[str, Any], published: Mapping[str, Any], tolerance: float = 1e-9) -> list[str]:
    """Every value that differs between two summaries (numbers beyond `tolerance`), as "path: ours != published"."""
    inner = published.get("model_summary", {})
    if isinstance(inner, Mapping) and "model_summary" in inner:
        published = {**published, "model_summary": inner["model_summary"]}
    mine, theirs = _flatten(ours), _flatten(published)
    differences = []
    for key in sorted(set(mine) | set(theirs)):
        first, second = mine.get(key), theirs.get(key)
        numbers = all(isinstance(value, int | float) for value in (first, second))
        if (abs(first - second) > tolerance) if numbers else first != second:
            differences.append(f"{key}: {first!r} != {second!r}")
    return differences


def reproduce_published(task_results: Path, task_meta: Path, published: Path) -> tuple[int, list[str]]:
    """Recompute a published summary from its `task_results.json`; the number of values checked and the differences."""
    ours = official_summary(read_task_results(task_results), _read_json(task_meta))
    return len(_flatten(ours)), compare_summaries(ours, _read_json(published))
