"""Scored evaluation records: each problem's responses (and rethinks) scored, and the summaries built from them.

A problem's record is a `ScoredSample` of its first response (what the benchmark's aggregate and the shared writers
read) whose `details["attempts"]` holds every response, its score and its rethink; the sampling (pass@k, maj@k) and
rethinking summaries are computed from those records alone, so resumed and new problems are treated alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rethinker.algo.rethinking import test_time_rethink_summary
from rethinker.data.schema import Example
from rethinker.eval.outputs import EXTRACTOR_KEY, RULES_EXTRACTOR
from rethinker.eval.passk import sampling_rows
from rethinker.eval.responses import Attempt, ProblemResponses
from rethinker.eval.suites.base import Benchmark, ScoredSample
from rethinker.rollout.triggers import BARE_WAIT

SKIPPED_DETAIL = "skipped"


def attempt_record(benchmark: Benchmark, attempt: Attempt, first: ScoredSample, example: Example) -> dict[str, Any]:
    """One response with its score (`first`), and its rethought text scored when there is one."""
    record: dict[str, Any] = {
        "response": attempt.response,
        "extracted": first.extracted,
        "rule": first.rule,
        "score": first.score,
        EXTRACTOR_KEY: first.details.get(EXTRACTOR_KEY, RULES_EXTRACTOR),
        "response_tokens": attempt.response_tokens,
        "ended_with_eos": attempt.ended_with_eos,
    }
    if attempt.rethought is not None:
        second = benchmark.score(attempt.rethought, example)
        record["rethink"] = {
            "response": attempt.rethought,
            "extracted": second.extracted,
            "rule": second.rule,
            "score": second.score,
            EXTRACTOR_KEY: second.details.get(EXTRACTOR_KEY, RULES_EXTRACTOR),
            "continuation_tokens": attempt.rethink_tokens,
        }
    return record


def score_problem(benchmark: Benchmark, responses: ProblemResponses) -> ScoredSample:
    """A problem's sample: its first response scored by the benchmark, every response and rethink in `details`."""
    example = responses.example
    if responses.skipped is not None:
        details = {SKIPPED_DETAIL: responses.skipped, "prompt_tokens": responses.prompt_tokens, "attempts": []}
        return ScoredSample(example.id, "", None, responses.skipped, 0.0, details)
    firsts = [benchmark.score(attempt.response, example) for attempt in responses.attempts]
    attempts = [
        attempt_record(benchmark, attempt, first, example)
        for attempt, first in zip(responses.attempts, firsts, strict=True)
    ]
    details = {**firsts[0].details, "prompt_tokens": responses.prompt_tokens, "attempts": attempts}
    return replace(firsts[0], details=details)


def recorded_responses(sample: ScoredSample, example: Example) -> ProblemResponses:
    """A finished problem's responses back from its record, so they can be scored again (by a judge, say)."""
    details = sample.details
    if SKIPPED_DETAIL in details:
        return ProblemResponses(example, int(details.get("prompt_tokens", 0)), (), details[SKIPPED_DETAIL])
    attempts = tuple(
        Attempt(
            record["response"],
            int(record["response_tokens"]),
            bool(record["ended_with_eos"]),
            record["rethink"]["response"] if "rethink" in record else None,
            int(record["rethink"]["continuation_tokens"]) if "rethink" in record else 0,
        )
        for record in details.get("attempts") or []
    )
    return ProblemResponses(example, int(details.get("prompt_tokens", 0)), attempts)


def rethought_sample(sample: ScoredSample) -> ScoredSample:
    """The sample as scored after rethinking its first response (a skipped problem stays as it is)."""
    attempts = sample.details.get("attempts") or []
    if not attempts:
        return sample
    rethink = attempts[0]["rethink"]
    details = {EXTRACTOR_KEY: rethink.get(EXTRACTOR_KEY, RULES_EXTRACTOR)}
    return ScoredSample(
        sample.id, rethink["response"], rethink["extracted"], rethink["rule"], rethink["score"], details
    )


def flip_counts(before: Sequence[bool], after: Sequence[bool]) -> dict[str, int]:
    """How many problems were right before and after rethinking, and how many rethinks changed the verdict."""
    pairs = list(zip(before, after, strict=True))
    return {
        "problems": len(pairs),
        "right_before": sum(first for first, _ in pairs),
        "right_after": sum(second for _, second in pairs),
        "wrong_to_right": sum(second and not first for first, second in pairs),
        "right_to_wrong": sum(first and not second for first, second in pairs),
    }


def rethink_results(
    benchmark: Benchmark, examples: Sequence[Example], scored: Sequence[ScoredSample]
) -> dict[str, Any]:
    """Accuracy with and without test-time rethinking, the flips, and the benchmark's breakdown after rethinking."""
    after = [rethought_sample(sample) for sample in scored]
    right_before, right_after = [s.score > 0 for s in scored], [s.score > 0 for s in after]
    summary = test_time_rethink_summary(right_before, right_after)
    return {
        "trigger": BARE_WAIT,
        **summary,
        "flips": flip_counts(right_before, right_after),
        "with_rethink": benchmark.aggregate(examples, after),
    }


def attempt_pairs(sample: ScoredSample, rethought: bool = False) -> list[tuple[str | None, float]]:
    """(extracted answer, score) of each response of a problem, before or after rethinking."""
    records = [record["rethink"] if rethought else record for record in sample.details.get("attempts") or []]
    return [(record["extracted"], float(record["score"])) for record in records]


def sampling_results(scored: Sequence[ScoredSample], samples: int, rethink: bool) -> dict[str, Any]:
    """pass@k and maj@k rows, after rethinking as well when it ran."""
    results: dict[str, Any] = sampling_rows([attempt_pairs(sample) for sample in scored], samples)
    if rethink:
        results["with_rethink"] = sampling_rows([attempt_pairs(sample, True) for sample in scored], samples)
    return results
