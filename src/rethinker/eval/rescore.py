"""Score saved model responses against a benchmark offline, and the oracle self-test that checks a scorer.

A missing response is an error naming the ids by default; with `allow_missing=True` it is kept as a sample scored 0 with
the rule `missing` (counted in `results.json`), so a partial run is never silently scored on fewer items. Responses
whose ids match no problem of the benchmark's data are counted and named; when most of them match none, the file was
written for another benchmark (or another split) and scoring is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.eval.judge import JudgeSettings, judge_report, scoring_benchmark
from rethinker.eval.outputs import MISSING_RULE, load_responses, write_outputs
from rethinker.eval.suites.base import Benchmark, ScoredSample

SHOWN_IDS = 10
"""How many ids an error message or the results show as examples."""


class ResponseIdError(UserError):
    """Responses that do not fit the benchmark's problems: most match no id, or some problems have none."""


@dataclass(frozen=True)
class IdMatch:
    """How response ids meet problem ids: responses for no problem at all, and selected problems with no response."""

    unmatched: list[str]
    missing: list[str]
    responses: int

    def counts(self) -> dict[str, Any]:
        """The counts for `results.json`, with a few ids of each kind."""
        return {
            "responses": self.responses,
            "unmatched": len(self.unmatched),
            "unmatched_ids": self.unmatched[:SHOWN_IDS],
            "missing_ids": self.missing[:SHOWN_IDS],
        }


def match_ids(known: Collection[str], selected: Sequence[str], responses: Collection[str]) -> IdMatch:
    """Compare response ids with every problem id in the data (`known`) and with the problems scored (`selected`)."""
    unmatched = sorted(response_id for response_id in responses if response_id not in known)
    missing = [problem_id for problem_id in selected if problem_id not in responses]
    return IdMatch(unmatched, missing, len(responses))


def check_unmatched(match: IdMatch, benchmark: str, responses_path: Path) -> None:
    """Refuse responses of which more than half match no problem id of the benchmark's data."""
    if match.responses and len(match.unmatched) * 2 > match.responses:
        shown = ", ".join(repr(example_id) for example_id in match.unmatched[:5])
        raise ResponseIdError(
            f"{responses_path}: {len(match.unmatched)} of {match.responses} responses match no {benchmark} problem id "
            f"(e.g. {shown}); are they responses to another benchmark or split? Check --benchmark and --data"
        )


def check_missing(missing: Sequence[str], allow_missing: bool) -> None:
    """Refuse problems without a response unless `allow_missing`."""
    if missing and not allow_missing:
        shown = ", ".join(repr(example_id) for example_id in missing[:SHOWN_IDS])
        raise ResponseIdError(
            f"{len(missing)} example(s) have no response, e.g. {shown}; pass --allow-missing to score them as wrong"
        )


def _missing_sample(example: Example) -> ScoredSample:
    """The record of an example that has no response: score 0, rule `missing`."""
    return ScoredSample(
        example.id, response="", extracted=None, rule=MISSING_RULE, score=0.0, details={"missing": True}
    )


def score_all(
    benchmark: Benchmark, examples: Sequence[Example], responses: Mapping[str, str], allow_missing: bool = False
) -> list[ScoredSample]:
    """Score each example's response in order; a missing response raises unless `allow_missing` (then it scores 0)."""
    check_missing([example.id for example in examples if example.id not in responses], allow_missing)
    prefetch = getattr(benchmark, "prefetch", None)
    if prefetch is not None:
        prefetch([(responses[example.id], example) for example in examples if example.id in responses])
    return [
        benchmark.score(responses[example.id], example) if example.id in responses else _missing_sample(example)
        for example in examples
    ]


def oracle_responses(benchmark: Benchmark, examples: Sequence[Example]) -> dict[str, str]:
    r"""Gold answers written as a model would answer: the benchmark's `oracle_response`, else `\boxed{gold}`."""
    write = getattr(benchmark, "oracle_response", None)
    return {
        example.id: write(example) if write is not None else f"The final answer is $\\boxed{{{example.answer}}}$."
        for example in examples
    }


def run_score(
    benchmark: Benchmark,
    data_path: Path,
    responses_path: Path,
    out_dir: Path,
    limit: int | None = None,
    allow_missing: bool = False,
    judge: JudgeSettings | None = None,
) -> dict[str, Any]:
    """Load a benchmark's data and saved responses, score them, write the output files, and return the results.

    With `judge`, answers are extracted by the judge endpoint (its replies cached, so a rescore asks nothing new).

    Response ids are checked against every problem in the data (not only the first `limit`), so a limited run does
    not count the responses to later problems as unmatched.
    """
    examples = benchmark.load(Path(data_path), limit=limit)
    responses = load_responses(Path(responses_path))
    known = (
        {example.id for example in benchmark.load(Path(data_path))}
        if limit is not None
        else {example.id for example in examples}
    )
    match = match_ids(known, [example.id for example in examples], responses)
    check_unmatched(match, benchmark.NAME, Path(responses_path))
    scoring = scoring_benchmark(benchmark, judge)
    scored = score_all(scoring, examples, responses, allow_missing)
    extra = {"counts": match.counts(), **judge_report(scoring)}
    return write_outputs(Path(out_dir), scoring, examples, scored, extra)
