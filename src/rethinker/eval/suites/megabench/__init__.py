"""MEGA-Bench (505 tasks, Core and Open-ended): loading its released task rows, its per-task parsers and rule-based
metrics, and its official aggregation (task means, Core / Open-ended macro means, overall, keyword breakdowns)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import MAX_ANSWER_CHARS
from rethinker.eval.suites._tally import accuracy, pair_up, percent
from rethinker.eval.suites.base import ScoredSample
from rethinker.eval.suites.megabench.data import load_examples
from rethinker.eval.suites.megabench.metrics.convert import as_list
from rethinker.eval.suites.megabench.metrics.table import JUDGE_METRICS
from rethinker.eval.suites.megabench.parsing import SINGLE_FIELD_PARSERS, Parser
from rethinker.eval.suites.megabench.scoring import Judge, score_query
from rethinker.eval.suites.megabench.summary import (
    KEYWORD_GROUPS,
    TaskResult,
    keyword_stats,
    model_summary,
    set_stats,
)
from rethinker.models.prompts import resolve_template

NOT_SCORED_RULE = "not_scored"


def eval_type(example: Example) -> str:
    """The task's evaluation type: "llm" with an LLM-judged field (Open-ended), else "rule" (Core), as officially."""
    metric_names = example.metadata["metric_info"]["field_score_function"].values()
    return "llm" if any(str(name).lower() in JUDGE_METRICS for name in metric_names) else "rule"


def _row(mean: float, tasks: int, **counts: int) -> dict[str, Any]:
    """A table row for a group of tasks: mean task score in percent, summed task scores, task count, other counts."""
    return {"accuracy": percent(mean), "correct": round(mean * tasks, 6), "total": tasks, **counts}


def _set_row(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return _row(stats["macro_mean_score"], stats["num_eval_tasks"], queries=stats["num_eval_samples"])


def _keyword_rows(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        keyword: _row(entry["average_score"], entry["count"], samples=entry["num_samples"])
        for keyword, entry in stats.items()
    }


class MegaBenchBenchmark:
    """MEGA-Bench with its official task prompts, response parsers, rule-based metrics and aggregation.

    `judge`, when given, scores the LLM-judged fields of the Open-ended tasks; without it they are "not scored".
    """

    NAME = "megabench"
    EXTRACTION_NOTE = (
        "Rule-based: each task's official response parser (answer string or JSON, read from the text after any "
        "</think>, its last 32,000 characters) and official field metrics, written from their definitions; fields "
        "combine by the task's mean or min, a task scores the mean over its queries, Core and Open-ended are macro "
        "means over tasks and the overall score weighs them by task count. Tasks whose metric needs an LLM judge "
        "(all Open-ended tasks), program execution or another unavailable tool are reported under 'not_scored' and "
        "left out of every mean, never counted as 0. In the tables, task groups count tasks (Total) and sum task "
        "scores (Correct)."
    )

    def __init__(self, judge: Judge | None = None) -> None:
        self.judge = judge

    def with_judge(self, judge: Judge) -> MegaBenchBenchmark:
        """This benchmark with LLM-judged fields scored by `judge` (the hook for a judge endpoint option)."""
        return MegaBenchBenchmark(judge=judge)

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read MEGA-Bench task rows (a JSON/JSONL/parquet file, a folder of them, or a `save_to_disk` folder)."""
        return load_examples(Path(path), limit)

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The official query: task description, the demonstration, then the query, media placeholders in place."""
        if template is not None:
            return resolve_template(template).format(question=example.question)
        return example.question

    def oracle_response(self, example: Example) -> str:
        """The gold answer written as a model would: "Answer: <gold>" for one-field tasks, else a JSON object.

        A multiple-reference field answers with its first reference, as the official ground-truth oracle does.
        """
        info = example.metadata["metric_info"]
        metrics = info["field_score_function"]
        answer = {
            name: as_list(gold)[0] if metrics.get(name) == "multi_ref_phrase" and as_list(gold) else gold
            for name, gold in example.metadata["answer_fields"].items()
        }
        parser = Parser(info["response_parse_function"])
        if parser in SINGLE_FIELD_PARSERS:
            (gold,) = [value for name, value in answer.items() if not str(name).startswith("##")]
            return f"Answer: {gold}"
        if parser is Parser.DUMMY:
            return example.answer
        return json.dumps(answer, ensure_ascii=False)

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one response with the task's parser and metrics; not-scored queries carry the reason."""
        verdict = score_query(response, example, self.judge)
        extracted = json.dumps(verdict.parsed, ensure_ascii=False, default=str)[:MAX_ANSWER_CHARS]
        if verdict.score is None:
            rule = NOT_SCORED_RULE
        else:
            rule = f"{verdict.parser}_failed" if verdict.parse_failed else verdict.parser
        details = {
            "task": example.metadata["task_name"],
            "fields": verdict.fields,
            "scored": verdict.score is not None,
        }
        if verdict.not_scored:
            details["not_scored"] = verdict.not_scored
        if verdict.metric_errors:
            details["metric_errors"] = verdict.metric_errors
        return ScoredSample(example.id, response, extracted, rule, verdict.score or 0.0, details)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Core, Open-ended and overall scores, per-task and per-keyword breakdowns, the not-scored tasks, and how many
        queries had a metric fail on their output (scored 0, as officially)."""
        by_task: dict[str, list[tuple[Example, ScoredSample]]] = {}
        all_pairs = pair_up(examples, scored)
        for example, sample in all_pairs:
            by_task.setdefault(example.metadata["task_name"], []).append((example, sample))
        results: list[TaskResult] = []
        task_rows: dict[str, dict[str, Any]] = {}
        not_scored: dict[str, str] = {}
        meta: dict[str, dict[str, Any]] = {}
        for task, pairs in by_task.items():
            first = pairs[0][0]
            reasons = sorted({reason for _, s in pairs for reason in s.details.get("not_scored", {}).values()})
            if reasons:
                not_scored[task] = "; ".join(reasons)
                continue
            task_rows[task] = accuracy(sample.score for _, sample in pairs)
            mean = sum(sample.score for _, sample in pairs) / len(pairs)
            results.append(TaskResult(task, mean, eval_type(first), first.metadata["num_demo"], len(pairs)))
            meta[task] = first.metadata.get("keywords") or {}
        summary = model_summary(results)
        keywords = keyword_stats(results, meta)
        overall = summary["overall_score"]
        return {
            "benchmark": self.NAME,
            "core": _set_row(summary["core"]),
            "open_ended": _set_row(summary["open"]),
            "overall": None if overall is None else _set_row(set_stats(results)),
            **{f"by_{group}": _keyword_rows(keywords[group]) for group in KEYWORD_GROUPS},
            "by_task": task_rows,
            "metric_error_queries": sum(bool(sample.details.get("metric_errors")) for _, sample in all_pairs),
            "not_scored": {
                "tasks": not_scored,
                "task_count": len(not_scored),
                "query_count": sum(len(by_task[task]) for task in not_scored),
            },
        }


BENCHMARK = MegaBenchBenchmark()
