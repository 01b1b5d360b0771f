"""The contract every benchmark module fulfils, so the runner never branches on which benchmark it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rethinker.data.schema import Example


@dataclass(frozen=True)
class ScoredSample:
    """One response scored by a benchmark's rules: what was extracted, by which rule, and the verdict."""

    id: str
    response: str
    extracted: str | None
    rule: str
    score: float
    details: dict[str, Any] = field(default_factory=dict)


class Benchmark(Protocol):
    """A benchmark module: loads its public files, builds its prompt, scores one response, aggregates scores."""

    NAME: str
    EXTRACTION_NOTE: str

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """Read the benchmark's public file(s) at `path` into examples, gold answers and metadata included."""
        ...

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The question text sent to the model: the official query, or `template` filled with the question."""
        ...

    def score(self, response: str, example: Example) -> ScoredSample:
        """Score one raw response with the benchmark's official rules (rule-based extraction replaces GPT)."""
        ...

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """Overall accuracy and the official sub-category breakdown, as a JSON-ready dict."""
        ...
