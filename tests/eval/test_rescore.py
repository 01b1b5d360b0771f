"""The shared rescoring runner: reading responses, scoring every example, the oracle self-test and the output files."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rethinker.data.schema import Example
from rethinker.eval.outputs import load_responses, markdown_table, write_outputs
from rethinker.eval.rescore import ResponseIdError, oracle_responses, run_score, score_all
from rethinker.eval.suites.base import Benchmark, ScoredSample
from rethinker.eval.suites.mathvista import BENCHMARK as MATHVISTA

FIXTURES = Path(__file__).parent / "fixtures"
TESTMINI_FIXTURE = FIXTURES / "mathvista_testmini.json"
OUTPUT_FIXTURE = FIXTURES / "mathvista_output.json"
REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real" / "mathvista"


class LastWordBenchmark:
    """A minimal benchmark without an oracle hook: the last word of a response must equal the gold answer."""

    NAME = "last-word"
    EXTRACTION_NOTE = "last word of the response"

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Not used here: examples are built in the tests."""
        raise NotImplementedError

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The bare question."""
        return example.question

    def score(self, response: str, example: Example) -> ScoredSample:
        """Compare the response's last word with the gold answer."""
        words = re.findall(r"\w+", response)
        extracted = words[-1] if words else None
        return ScoredSample(example.id, response, extracted, "last_word", float(extracted == example.answer))

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Overall accuracy only."""
        correct = sum(sample.score for sample in scored)
        return {"overall": {"accuracy": correct / len(scored), "correct": correct, "total": len(scored)}}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSONL and return the path."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------- load_responses


def test_load_responses_reads_jsonl_and_the_official_mathvista_output(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "response": "x"}, {"pid": 2, "response": ""}])
    assert load_responses(jsonl) == {"a": "x", "2": ""}
    official = load_responses(OUTPUT_FIXTURE)
    assert list(official) == [str(pid) for pid in range(1, 9)]
    assert official["3"] == "Angle BOC = 90° + 110°/2 = 145°. The answer is C."


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.jsonl", '{"id": "a", "response": "x"}\nnot json\n', "line 2: not valid JSON"),
        ("bad.jsonl", '{"id": "a"}\n', "line 1: 'response' must be a string"),
        ("bad.jsonl", '{"response": "x"}\n', "line 1: missing 'id'"),
        ("bad.jsonl", '{"id": "a", "response": "x"}\n\n{"id": "a", "response": "y"}\n', "line 3: duplicate id 'a'"),
        ("bad.json", '{"17": {"answer": "3"}}', "key '17': 'response' must be a string"),
        ("bad.json", '["a", "b"]', "expected a JSON object keyed by problem id"),
        ("bad.json", '{"1": {"response": "x"', "not valid JSON"),
    ],
)
def test_bad_response_files_name_the_file_and_place(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as raised:
        load_responses(path)
    assert str(path) in str(raised.value)


# ---------------------------------------------------------------- score_all and the oracle


def test_missing_responses_raise_or_score_zero_when_allowed() -> None:
    examples = MATHVISTA.load(TESTMINI_FIXTURE)
    responses = {example.id: "" for example in examples if example.id not in {"3", "6"}}
    with pytest.raises(ResponseIdError, match="2 example\\(s\\) have no response, e.g. '3', '6'"):
        score_all(MATHVISTA, examples, responses)
    oracle = oracle_responses(MATHVISTA, examples)
    del oracle["6"]
    scored = score_all(MATHVISTA, examples, oracle, allow_missing=True)
    assert [sample.id for sample in scored] == [example.id for example in examples]
    missing = scored[5]
    assert (missing.rule, missing.score, missing.details) == ("missing", 0.0, {"missing": True})
    assert sum(sample.score for sample in scored) == len(examples) - 1


def test_oracle_uses_the_benchmark_hook_or_a_boxed_gold() -> None:
    examples = MATHVISTA.load(TESTMINI_FIXTURE)
    oracle = oracle_responses(MATHVISTA, examples)
    assert "\\boxed{C}" in oracle["7"]
    assert all(sample.score == 1.0 for sample in score_all(MATHVISTA, examples, oracle))
    plain = [Example(id="q1", question="2+2?", answer="4"), Example(id="q2", question="Colour?", answer="red")]
    boxed = oracle_responses(LastWordBenchmark(), plain)
    assert boxed == {"q1": "The final answer is $\\boxed{4}$.", "q2": "The final answer is $\\boxed{red}$."}
    assert [sample.score for sample in score_all(LastWordBenchmark(), plain, boxed)] == [1.0, 1.0]


# ---------------------------------------------------------------- output files


def test_markdown_table_lists_every_accuracy_row_in_order() -> None:
    results = {
        "benchmark": "x",
        "average": {"accuracy": "50.0", "correct": 1, "total": 2},
        "grade": {"college": {"accuracy": "100.00", "correct": 1, "total": 1}},
        "counts": {"examples": 2},
    }
    lines = markdown_table(results).splitlines()
    assert lines[0] == "| Group | Accuracy | Correct | Total |"
    assert lines[2:] == ["| average | 50.0 | 1 | 2 |", "| grade / college | 100.00 | 1 | 1 |"]


def test_run_score_writes_samples_results_and_table(tmp_path: Path) -> None:
    benchmark: Benchmark = MATHVISTA
    results = run_score(benchmark, TESTMINI_FIXTURE, OUTPUT_FIXTURE, tmp_path / "out", limit=6)
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text("utf-8").splitlines()]
    assert [sample["id"] for sample in samples] == ["1", "2", "3", "4", "5", "6"]
    assert set(samples[2]) == {"id", "response", "extracted", "rule", "score", "details"}
    assert (samples[2]["extracted"], samples[2]["rule"], samples[2]["score"]) == ("C", "answer_phrase", 1.0)
    written = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    assert written == results
    assert written["benchmark"] == "mathvista" and written["extraction_note"] == MATHVISTA.EXTRACTION_NOTE
    counts = written["counts"]
    assert (counts["examples"], counts["scored"], counts["missing"], counts["unmatched"]) == (6, 6, 0, 0)
    assert written["average"]["correct"] == sum(sample["score"] for sample in samples)
    assert sum(written["rules"].values()) == 6
    markdown = (tmp_path / "out" / "results.md").read_text("utf-8")
    assert f"| average | {written['average']['accuracy']} |" in markdown and "GPT" in markdown


def test_write_outputs_replaces_earlier_files(tmp_path: Path) -> None:
    examples = [Example(id="q1", question="2+2?", answer="4")]
    first = [ScoredSample("q1", "5", "5", "last_word", 0.0)]
    second = [ScoredSample("q1", "4", "4", "last_word", 1.0)]
    write_outputs(tmp_path, LastWordBenchmark(), examples, first)
    results = write_outputs(tmp_path, LastWordBenchmark(), examples, second)
    assert results["overall"]["correct"] == 1.0
    assert (tmp_path / "samples.jsonl").read_text("utf-8").count("\n") == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json", "results.md", "samples.jsonl"]


@pytest.mark.skipif(not (REAL / "output_bard.json").exists(), reason=f"real MathVista files not found at {REAL}")
@pytest.mark.real_data
def test_rescoring_the_real_bard_output_end_to_end(tmp_path: Path) -> None:
    started = time.perf_counter()
    results = run_score(MATHVISTA, REAL / "testmini.json", REAL / "output_bard.json", tmp_path)
    elapsed = time.perf_counter() - started
    counts = results["counts"]
    assert (counts["examples"], counts["scored"], counts["missing"], counts["unmatched"]) == (1000, 1000, 0, 0)
    assert abs(results["average"]["correct"] - 348) <= 30
    assert elapsed < 20.0
