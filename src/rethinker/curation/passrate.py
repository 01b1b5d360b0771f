"""Pass-rate annotation: k sampled responses per query, scored as in training, resumable through a side file.

Queries are cut into fixed batches by their position in the data. Each batch samples under a seed derived from the run
seed and the batch's query ids, so a batch rolled out again after a restart draws exactly what it drew the first time:
a resumed run writes the same results as an uninterrupted one (with the same `batch_queries` and hardware).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rethinker.errors import UserError
from rethinker.jsonl import JsonlError, iter_jsonl, truncate_torn_tail
from rethinker.models.processor import PromptInputs, PromptTooLongError
from rethinker.models.prompt_bank import PromptBank
from rethinker.rewards.registry import RewardFn, score_batch
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import RolloutEngine, SamplingParams
from rethinker.telemetry import progress_bar

log = logging.getLogger(__name__)

PASS_RATE_PREFIX = "PassRate_"
PARTIAL_SUFFIX = ".partial.jsonl"


@dataclass(frozen=True)
class QueryResult:
    """One query's outcome: `correct` of `samples` responses were right; `samples == 0` means its prompt was skipped."""

    id: str
    correct: int
    samples: int

    @property
    def pass_rate(self) -> float | None:
        """The share of correct responses, or None for a skipped query."""
        return self.correct / self.samples if self.samples else None


@dataclass(frozen=True)
class AnnotationSummary:
    """Every query's result in data order; how many were rolled out now, came from the side file, were too long."""

    results: list[QueryResult]
    annotated: int
    resumed: int
    too_long: int


def pass_rate_column(name: str) -> str:
    """The pass-rate column for a model name, e.g. `PassRate_7BBase`."""
    return f"{PASS_RATE_PREFIX}{name}"


def count_columns(column: str) -> tuple[str, str]:
    """The (correct, samples) count columns that go with a pass-rate column."""
    return f"{column}_correct", f"{column}_samples"


def partial_path(out: Path) -> Path:
    """The side file where finished queries of an annotation writing `out` are appended."""
    return out.with_name(out.name + PARTIAL_SUFFIX)


def batch_seed(seed: int, ids: Sequence[str]) -> int:
    """The sampling seed of one batch, from the run seed and the batch's query ids."""
    digest = hashlib.sha256(json.dumps([seed, list(ids)]).encode()).hexdigest()
    return int(digest[:15], 16)


def fixed_batches(count: int, size: int) -> list[range]:
    """Positions 0..count-1 cut into consecutive batches of `size` (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def group_correct(correct: Sequence[bool], group_size: int) -> list[int]:
    """The number of correct responses in each consecutive group of `group_size`."""
    if len(correct) % group_size:
        raise ValueError(f"{len(correct)} verdicts do not split into groups of {group_size}")
    return [sum(correct[start : start + group_size]) for start in range(0, len(correct), group_size)]


class PartialLog:
    """The side file: a header with the run's settings, then one JSON line per finished query."""

    def __init__(self, path: Path, settings: Mapping[str, Any]) -> None:
        self.path = path
        self.settings = json.loads(json.dumps(dict(settings)))

    def _repair(self) -> None:
        """Cut a last line left half-written by a killed run."""
        removed = truncate_torn_tail(self.path)
        if removed:
            log.warning("%s: dropping a truncated last line (%d bytes)", self.path, removed)

    def load(self) -> dict[str, QueryResult]:
        """Finished queries by id (starting the file when there is none); refuses a file of other settings."""
        if self.path.exists():
            self._repair()
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        if not lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"settings": self.settings}) + "\n", encoding="utf-8")
            return {}
        header = _header_settings(lines[0])
        if header is None:
            raise UserError(f"{self.path}: line 1 is not a settings header; delete the file to start over")
        if header != self.settings:
            changed = sorted(key for key in {**header, **self.settings} if header.get(key) != self.settings.get(key))
            raise UserError(
                f"{self.path} was written with other settings ({', '.join(changed)}); "
                "delete it to start over, or pass another --out"
            )
        finished: dict[str, QueryResult] = {}
        try:
            for number, record in itertools.islice(iter_jsonl(self.path), 1, None):
                try:
                    result = QueryResult(**record)
                except TypeError as error:
                    raise JsonlError(self.path, number, f"not a query result ({error})") from error
                finished[result.id] = result
        except JsonlError as error:
            raise UserError(f"{error}; delete the file") from error
        return finished

    def append(self, results: Sequence[QueryResult]) -> None:
        """Append finished queries, flushed to disk before returning."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(asdict(result)) + "\n" for result in results))
            handle.flush()


class Annotator:
    """Rolls out `params.n` responses per query and counts the correct ones with the training reward."""

    def __init__(
        self,
        bank: PromptBank,
        engine: RolloutEngine,
        reward_fn: RewardFn,
        verifier: Verifier,
        params: SamplingParams,
        seed: int,
    ) -> None:
        self.bank = bank
        self.engine = engine
        self.reward_fn = reward_fn
        self.verifier = verifier
        self.params = params
        self.seed = seed

    def _prompts(self, positions: Sequence[int]) -> tuple[list[int], list[PromptInputs]]:
        """The positions whose prompts fit the length limit, and their prompts; the others are counted and logged."""
        kept, prompts = [], []
        for position in positions:
            try:
                prompts.append(self.bank.get(position))
                kept.append(position)
            except PromptTooLongError as error:
                log.warning("skipping example %s: %s", self.bank.examples[position].id, error)
        return kept, prompts

    def batch(self, positions: Sequence[int]) -> list[QueryResult]:
        """The results of one batch of queries, in order; an over-long prompt gives a result with 0 samples."""
        examples = self.bank.examples
        kept, prompts = self._prompts(positions)
        results = {examples[p].id: QueryResult(examples[p].id, 0, 0) for p in positions}
        if prompts:
            torch.manual_seed(batch_seed(self.seed, [examples[p].id for p in kept]))
            groups = self.engine.generate(prompts, self.params)
            responses = [self.bank.processor.decode(g.token_ids) for group in groups for g in group]
            targets = [examples[p] for p in kept for _ in range(self.params.n)]
            verdicts = [r.correct for r in score_batch(self.reward_fn, responses, targets, self.verifier)]
            for position, correct in zip(kept, group_correct(verdicts, self.params.n), strict=True):
                results[examples[position].id] = QueryResult(examples[position].id, correct, self.params.n)
        return [results[examples[p].id] for p in positions]


def _header_settings(line: str) -> dict[str, Any] | None:
    """The settings recorded on a side file's first line, or None when the line is not such a header."""
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        return None
    settings = header.get("settings") if isinstance(header, dict) else None
    return settings if isinstance(settings, dict) else None


def annotate(annotator: Annotator, partial: PartialLog, batch_queries: int, progress: bool) -> AnnotationSummary:
    """Annotate every query of the annotator's bank, skipping those the side file holds and appending new ones."""
    examples = annotator.bank.examples
    ids = [example.id for example in examples]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"query ids must be unique to resume by id; {duplicate!r} appears more than once")
    finished = partial.load()
    resumed = sum(i in finished for i in ids)
    annotated = 0
    bar = progress_bar(len(ids), resumed, progress, "passrate")
    try:
        for positions in fixed_batches(len(ids), batch_queries):
            if all(ids[p] in finished for p in positions):
                continue
            new = [result for result in annotator.batch(positions) if result.id not in finished]
            partial.append(new)
            finished.update((result.id, result) for result in new)
            annotated += len(new)
            bar.update(len(new))
    finally:
        bar.close()
    results = [finished[i] for i in ids]
    return AnnotationSummary(results, annotated, resumed, sum(result.samples == 0 for result in results))
