"""Score saved model responses against a benchmark offline, and the oracle self-test that checks a scorer.

A missing response is an error naming the ids by default; with `allow_missing=True` it is kept as a sample scored 0 with
the rule `missing` (counted in `results.json`), so a partial run is never silently scored on fewer items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.benchmarks.base import Benchmark, ScoredSample
from rethinker.eval.outputs import MISSING_RULE, load_responses, write_outputs


def _missing_sample(example: Example) -> ScoredSample:
    """The record of an example that has no response: score 0, rule `missing`."""
    return ScoredSample(
        example.id, response="", extracted=None, rule=MISSING_RULE, score=0.0, details={"missing": True}
    )


def score_all(
    benchmark: Benchmark, examples: Sequence[Example], responses: Mapping[str, str], allow_missing: bool = False
) -> list[ScoredSample]:
    """Score each example's response in order; a missing response raises unless `allow_missing` (then it scores 0)."""
    missing = [example.id for example in examples if example.id not in responses]
    if missing and not allow_missing:
        shown = ", ".join(repr(example_id) for example_id in missing[:10])
        raise KeyError(f"{len(missing)} example(s) have no response, e.g. {shown}")
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
) -> dict[str, Any]:
    """Load a benchmark's data and saved responses, score them, write the output files, and return the results."""
    examples = benchmark.load(Path(data_path), limit=limit)
    responses = load_responses(Path(responses_path))
    scored = score_all(benchmark, examples, responses, allow_missing=allow_missing)
    return write_outputs(Path(out_dir), benchmark, examples, scored)
