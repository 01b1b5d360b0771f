"""Evaluation files: reading model responses; writing per-sample records, the aggregate JSON and a Markdown table."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rethinker.data.schema import Example
from rethinker.eval.suites.base import Benchmark, ScoredSample
from rethinker.jsonl import iter_jsonl

MISSING_RULE = "missing"
"""The rule recorded for an example that had no response (scored 0)."""
EXTRACTOR_KEY = "extractor"
"""The `details` key naming which extractor read a response's answer: `judge`, `rules` or `rules-fallback`."""
RULES_EXTRACTOR = "rules"


def _response_text(record: Any, where: str) -> str:
    """The `response` string of one record; anything else is an error naming where it was found."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected an object with a 'response' field")
    response = record.get("response")
    if not isinstance(response, str):
        raise ValueError(f"{where}: 'response' must be a string, got {type(response).__name__}")
    return response


def _record_id(record: Mapping[str, Any], where: str) -> str:
    """The id of one JSONL record (`id`, or `pid` as in MathVista files)."""
    for key in ("id", "pid"):
        if record.get(key) not in (None, ""):
            return str(record[key])
    raise ValueError(f"{where}: missing 'id'")


def _jsonl_responses(path: Path) -> Iterator[tuple[str, str, str]]:
    """(where, id, response) for each line of a JSONL file with `id` and `response` fields."""
    for line_number, record in iter_jsonl(path):
        where = f"{path} line {line_number}"
        yield where, _record_id(record, where), _response_text(record, where)


def _json_responses(path: Path) -> Iterator[tuple[str, str, str]]:
    """(where, id, response) for each entry of a JSON object keyed by id (the official MathVista output file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a JSON object keyed by problem id")
    for key, record in data.items():
        where = f"{path}: key {key!r}"
        yield where, str(key), _response_text(record, where)


def load_responses(path: Path) -> dict[str, str]:
    """Responses by example id from JSONL (`id`, `response`) or a JSON object keyed by id with a `response` field."""
    path = Path(path)
    entries = _jsonl_responses(path) if path.suffix == ".jsonl" else _json_responses(path)
    responses: dict[str, str] = {}
    for where, example_id, response in entries:
        if example_id in responses:
            raise ValueError(f"{where}: duplicate id {example_id!r}")
        responses[example_id] = response
    return responses


def _is_row(value: Any) -> bool:
    """Whether a results entry is one accuracy row (it has an `accuracy` field)."""
    return isinstance(value, Mapping) and "accuracy" in value


def _rows(results: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, row) for every accuracy row in nested results, names joined with ' / '."""
    for key, value in results.items():
        name = f"{prefix} / {key}" if prefix else str(key)
        if _is_row(value):
            yield name, value
        elif isinstance(value, Mapping):
            yield from _rows(value, name)


def markdown_table(results: Mapping[str, Any]) -> str:
    """A Markdown table of every accuracy row in `results` (overall first, then each breakdown)."""
    lines = ["| Group | Accuracy | Correct | Total |", "| --- | ---: | ---: | ---: |"]
    for name, row in _rows(results):
        lines.append(f"| {name} | {row['accuracy']} | {row.get('correct', '')} | {row.get('total', '')} |")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename, so a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def sample_line(sample: ScoredSample) -> str:
    """One `samples.jsonl` line: id, response, extracted answer, rule, score and details."""
    return json.dumps(asdict(sample), ensure_ascii=False, default=str)


def summarize(benchmark: Benchmark, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
    """The results of scored samples: the benchmark's aggregate, counts, and how often each rule and extractor ran."""
    rules = Counter(sample.rule for sample in scored)
    extractors = Counter(sample.details.get(EXTRACTOR_KEY, RULES_EXTRACTOR) for sample in scored)
    return {
        "benchmark": benchmark.NAME,
        **benchmark.aggregate(examples, scored),
        "extraction_note": benchmark.EXTRACTION_NOTE,
        "counts": {"examples": len(examples), "scored": len(scored), "missing": rules[MISSING_RULE]},
        "rules": dict(rules.most_common()),
        "extractors": dict(extractors.most_common()),
    }


def _percent(share: float) -> str:
    """A share in [0, 1] as a percentage with two decimals."""
    return f"{share * 100:.2f}%"


def rethink_markdown(rethink: Mapping[str, Any]) -> str:
    """The before/after figures of test-time rethinking as a Markdown section."""
    flips = rethink["flips"]
    total = flips["problems"]
    return (
        "## Test-time rethinking\n\n"
        f"- trigger: {rethink['trigger']!r}\n"
        f"- accuracy before rethinking: {_percent(rethink['acc_before'])} ({flips['right_before']}/{total})\n"
        f"- accuracy after rethinking: {_percent(rethink['acc_after'])} ({flips['right_after']}/{total})\n"
        f"- wrong -> right: {flips['wrong_to_right']}\n"
        f"- right -> wrong: {flips['right_to_wrong']}\n"
    )


def counts_markdown(results: Mapping[str, Any]) -> str:
    """One line of counts: problems, missing and unmatched responses, and which extractor gave the verdicts."""
    counts = results.get("counts", {})
    parts = [f"{key}: {value}" for key, value in counts.items() if not isinstance(value, list | dict)]
    extractors = ", ".join(f"{name} {count}" for name, count in results.get("extractors", {}).items())
    line = "Counts: " + ", ".join(parts)
    return line + (f". Verdicts by extractor: {extractors}." if extractors else ".")


def results_markdown(benchmark: Benchmark, results: Mapping[str, Any]) -> str:
    """`results.md`: the accuracy table, the counts, rethinking figures and generation settings when present."""
    sections = [f"# {benchmark.NAME}\n\n{markdown_table(results)}", counts_markdown(results) + "\n"]
    if "rethink" in results:
        sections.append(rethink_markdown(results["rethink"]))
    if "generation" in results:
        settings = "\n".join(f"- {key}: {value!r}" for key, value in results["generation"].items())
        sections.append(f"## Generation\n\n{settings}\n")
    sections.append(f"{benchmark.EXTRACTION_NOTE}\n")
    return "\n".join(sections)


def write_outputs(
    out_dir: Path,
    benchmark: Benchmark,
    examples: Sequence[Example],
    scored: Sequence[ScoredSample],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `samples.jsonl`, `results.json` and `results.md` into `out_dir`; return the results written.

    `extra` adds sections to the results (its `counts` are merged into the counts).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = summarize(benchmark, examples, scored)
    for key, value in (extra or {}).items():
        if key == "counts":
            results["counts"].update(value)
        else:
            results[key] = value
    write_atomically(out_dir / "samples.jsonl", "".join(sample_line(sample) + "\n" for sample in scored))
    write_atomically(out_dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    write_atomically(out_dir / "results.md", results_markdown(benchmark, results))
    return results
