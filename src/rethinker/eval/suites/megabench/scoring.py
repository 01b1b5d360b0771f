"""Scoring one MEGA-Bench query: parse the response, score each answer field with its metric, combine the fields.

A field whose metric cannot be scored by rule (an LLM judge, program execution...) makes the whole query "not scored"
unless a judge hook scores it (a judge that fails or answers outside [0, 1] leaves it not scored); such a query is
never counted as 0. A metric that fails on odd output scores 0, as
officially; the official "unsupported" metric leaves its field out, as officially.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites._answer import MAX_ANSWER_CHARS, final_text
from rethinker.eval.suites.megabench.metrics.convert import unquote
from rethinker.eval.suites.megabench.metrics.table import (
    CONTEXT_METRICS,
    FIELD_METRICS,
    JUDGE_METRICS,
    not_scored_reason,
)
from rethinker.eval.suites.megabench.parsing import (
    SINGLE_FIELD_PARSERS,
    Parser,
    parse_answer_string,
    parse_json_fields,
)

Judge = Callable[[str, Example, Any, Any], float]
"""A judge hook: (metric name, example, parsed response field, gold field) -> score in [0, 1]."""
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class QueryScore:
    """One query's verdict: its score (None when not scored), each field's score, and what the parser saw."""

    score: float | None
    fields: dict[str, float]
    not_scored: dict[str, str] = field(default_factory=dict)
    parsed: dict[str, Any] = field(default_factory=dict)
    parser: str = Parser.JSON.value
    parse_failed: bool = False
    metric_errors: dict[str, str] = field(default_factory=dict)


def parse_response(response: str, answer: Mapping[str, Any], parser: Parser) -> tuple[dict[str, Any], bool]:
    """Each answer field's value in the response, and whether JSON parsing failed (each field then reads the text)."""
    if parser in SINGLE_FIELD_PARSERS:
        (key,) = [name for name in answer if not str(name).startswith("##")]
        single_line = "\n" not in str(answer[key])
        return {key: parse_answer_string(response, parser, single_line_gold=single_line)}, False
    if parser is Parser.DUMMY:
        return {name: final_text(response).strip() for name in answer}, False
    fields = parse_json_fields(response)
    if fields is None:
        return {name: final_text(response) for name in answer}, True
    return fields, False


def combine_fields(scores: Mapping[str, float], aggregation: Mapping[str, Any]) -> float:
    """The query score from its field scores: weighted mean or minimum of the applicable (>= 0) ones, else 0."""
    applicable = {name: score for name, score in scores.items() if score >= 0}
    if not applicable:
        return 0.0
    if aggregation["function"] == "min":
        return min(applicable.values())
    weights = aggregation.get("field_weights") or {}
    total = sum(float(weights[name]) for name in applicable)
    if total <= 0:
        return 0.0
    return sum(score * float(weights[name]) for name, score in applicable.items()) / total


def _run_metric(metric: Callable[[Any, Any], float], response: Any, reference: Any) -> tuple[float, str | None]:
    """A metric's score (0 when it fails on odd output or gives a non-finite number) and the failure, if any."""
    try:
        score = float(metric(response, reference))
    except Exception as error:  # a metric failing on untrusted output scores 0, as the official harness does
        return 0.0, f"{type(error).__name__}: {error}"[:MAX_ANSWER_CHARS]
    return (score, None) if math.isfinite(score) else (0.0, "non-finite score")


def score_query(response: str, example: Example, judge: Judge | None = None) -> QueryScore:
    """Score one response to one query with the task's parser, field metrics and field aggregation."""
    info = example.metadata["metric_info"]
    answer = example.metadata["answer_fields"]
    context = example.metadata.get("eval_context") or {}
    parser = Parser(info["response_parse_function"])
    parsed, parse_failed = parse_response(response, answer, parser)
    metric_names = {**info["field_score_function"], **info.get("global_aux_metrics", {})}
    aux_fields = set(info.get("global_aux_metrics", {}))
    scores: dict[str, float] = {}
    not_scored: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in [*answer, *aux_fields]:
        metric_name = str(metric_names.get(name) or UNSUPPORTED).lower()
        predicted = parsed if name in aux_fields else parsed.get(name)
        gold = answer if name in aux_fields else unquote(answer[name])
        if metric_name == UNSUPPORTED:
            continue
        if metric_name in JUDGE_METRICS and judge is not None:
            score, error = _run_metric(partial(judge, metric_name, example), predicted, gold)
            if error is not None or not 0 <= score <= 1:
                not_scored[name] = f"{metric_name}: the judge failed ({error or f'score {score} outside [0, 1]'})"
                continue
            scores[name] = score
        elif metric_name in FIELD_METRICS:
            scores[name], error = _run_metric(FIELD_METRICS[metric_name], predicted, gold)
        elif metric_name in CONTEXT_METRICS:
            scores[name], error = _run_metric(CONTEXT_METRICS[metric_name], predicted, context)
        else:
            not_scored[name] = f"{metric_name}: {not_scored_reason(metric_name)}"
            continue
        if error is not None:
            errors[name] = error
    score = None if not_scored else combine_fields(scores, info["aggregation"])
    return QueryScore(score, scores, not_scored, parsed, parser.value, parse_failed, errors)
