"""Scored records of a problem's responses and the pass@k / maj@k and rethinking summaries built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinker.eval.records import rethink_results, rethought_sample, sampling_results, score_problem
from rethinker.eval.registry import get_benchmark
from rethinker.eval.responses import PROMPT_TOO_LONG, Attempt, ProblemResponses

MATHVISTA = Path(__file__).parent / "fixtures" / "mathvista_testmini.json"
BENCHMARK = get_benchmark("mathvista")
EXAMPLES = BENCHMARK.load(MATHVISTA, limit=3)


def boxed(example_index: int, right: bool) -> str:
    """A response giving the gold answer of an example, or a wrong one."""
    example = EXAMPLES[example_index]
    return BENCHMARK.oracle_response(example) if right else "The final answer is $\\boxed{123456}$."


def attempt(example_index: int, right: bool, rethought_right: bool | None = None) -> Attempt:
    rethought = (
        None
        if rethought_right is None
        else boxed(example_index, right) + "\n\nWait" + boxed(example_index, rethought_right)
    )
    return Attempt(boxed(example_index, right), 12, True, rethought, 7 if rethought else 0)


def test_the_record_is_the_first_response_with_every_attempt_in_details() -> None:
    responses = ProblemResponses(EXAMPLES[0], 40, (attempt(0, False), attempt(0, True), attempt(0, True)))
    sample = score_problem(BENCHMARK, responses)
    assert sample.id == EXAMPLES[0].id and sample.score == 0.0 and sample.response == responses.attempts[0].response
    assert [record["score"] for record in sample.details["attempts"]] == [0.0, 1.0, 1.0]
    assert sample.details["prompt_tokens"] == 40 and sample.details["answer"] == EXAMPLES[0].answer
    assert sample.details["attempts"][1]["extracted"] and "rethink" not in sample.details["attempts"][1]


def test_a_skipped_problem_scores_zero_with_no_attempts() -> None:
    sample = score_problem(BENCHMARK, ProblemResponses(EXAMPLES[1], 9000, (), PROMPT_TOO_LONG))
    assert (sample.score, sample.rule, sample.details["attempts"]) == (0.0, PROMPT_TOO_LONG, [])
    assert rethought_sample(sample) is sample


def test_rethink_summary_counts_flips_both_ways() -> None:
    scored = [
        score_problem(BENCHMARK, ProblemResponses(EXAMPLES[0], 40, (attempt(0, True, False),))),
        score_problem(BENCHMARK, ProblemResponses(EXAMPLES[1], 40, (attempt(1, False, True),))),
        score_problem(BENCHMARK, ProblemResponses(EXAMPLES[2], 40, (attempt(2, True, True),))),
    ]
    assert [rethought_sample(sample).score for sample in scored] == [0.0, 1.0, 1.0]
    summary = rethink_results(BENCHMARK, EXAMPLES, scored)
    assert summary["acc_before"] == pytest.approx(2 / 3) and summary["acc_after"] == pytest.approx(2 / 3)
    assert summary["right_to_wrong"] == pytest.approx(1 / 3) and summary["wrong_to_right"] == pytest.approx(1 / 3)
    assert summary["oracle"] == 1.0 and summary["with_rethink"]["average"]["correct"] == 2


def test_sampling_results_before_and_after_rethinking() -> None:
    scored = [
        score_problem(BENCHMARK, ProblemResponses(EXAMPLES[0], 40, (attempt(0, False, True), attempt(0, True, True)))),
        score_problem(
            BENCHMARK, ProblemResponses(EXAMPLES[1], 40, (attempt(1, False, False), attempt(1, False, True)))
        ),
    ]
    results = sampling_results(scored, samples=2, rethink=True)
    assert results["pass@1"]["accuracy"] == pytest.approx(25.0) and results["pass@2"]["accuracy"] == 50.0
    assert results["maj@2"]["accuracy"] == 0.0
    after = results["with_rethink"]
    assert after["pass@1"]["accuracy"] == pytest.approx(75.0) and after["pass@2"]["accuracy"] == 100.0
