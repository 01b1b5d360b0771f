"""Forced rethinking during training: continue some responses after a "Wait, ..." trigger, keep the correct rethinks.

The decisions (eligibility, fraction, trigger, cut, acceptance, cap) are the pure functions of `algo.rethinking`;
this module only generates, scores and swaps samples, and reports what happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from rethinker.algo.rethinking import (
    RethinkRecord,
    accept,
    cap_per_query,
    choose_cut,
    choose_for_rethinking,
    choose_trigger,
    eligible,
    rethink_metrics,
)
from rethinker.config import RethinkConfig
from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.rewards.extract import count_waits
from rethinker.rollout.base import RolloutEngine, SamplingParams
from rethinker.rollout.triggers import cut_before_final_answer, trigger_set
from rethinker.train.samples import Sample

Scorer = Callable[[list[Sample]], None]
"""Sets `reward` and `correct` on samples in place (the trainer's reward stage)."""


@dataclass(frozen=True)
class Attempt:
    """One forced continuation: which sample, the forced prefix (response part + trigger) and what was generated."""

    index: int
    prefix_ids: torch.Tensor
    trigger_ids_count: int


def prefix_ids(processor: VisionProcessor, sample: Sample, trigger: str, cut: bool) -> torch.Tensor:
    """Response tokens to keep (without EOS; cut before the final answer when asked and possible) + trigger tokens."""
    tokenizer = processor.tokenizer
    cut_text = cut_before_final_answer(sample.response_text) if cut else None
    if cut_text is None:
        kept = sample.response_ids[:-1] if sample.ended_with_eos else sample.response_ids
    else:
        kept = torch.tensor(tokenizer.encode(cut_text, add_special_tokens=False), dtype=torch.long)
    trigger_ids = torch.tensor(tokenizer.encode(trigger, add_special_tokens=False), dtype=torch.long)
    return torch.cat([kept, trigger_ids])


def group_accuracy(samples: Sequence[Sample]) -> dict[int, float]:
    """Accuracy of each query's group, keyed by query index."""
    totals: dict[int, list[bool]] = {}
    for sample in samples:
        totals.setdefault(sample.query_index, []).append(sample.correct)
    return {query: sum(flags) / len(flags) for query, flags in totals.items()}


class RethinkStage:
    """Applies forced rethinking to a graded episode and returns the samples with accepted rethinks swapped in."""

    def __init__(self, config: RethinkConfig, processor: VisionProcessor, engine: RolloutEngine, budget: int) -> None:
        self.config = config
        self.processor = processor
        self.engine = engine
        self.budget = budget

    def choose(self, samples: Sequence[Sample], rng: random.Random) -> list[Attempt]:
        """Pick the responses to force and build their prefixes (trigger chosen per response)."""
        accuracy = group_accuracy(samples)
        mask = [
            eligible(s.ended_with_eos, s.response_length, self.budget, s.correct, accuracy[s.query_index], self.config)
            for s in samples
        ]
        attempts = []
        triggers = trigger_set(self.config.triggers)
        for index in choose_for_rethinking(mask, self.config.fraction, rng):
            sample = samples[index]
            trigger = choose_trigger(self.config.trigger_rule, sample.correct, rng, triggers)
            cut = choose_cut(self.config.cut_prob, rng)
            prefix = prefix_ids(self.processor, sample, trigger, cut)
            attempts.append(
                Attempt(index, prefix, len(self.processor.tokenizer.encode(trigger, add_special_tokens=False)))
            )
        return attempts

    def apply(
        self, samples: list[Sample], prompt_of: Callable[[int], PromptInputs], score: Scorer, rng: random.Random
    ) -> tuple[list[Sample], dict[str, float]]:
        """Force, continue, grade and swap in accepted rethinks; returns the new samples and `rethink/*` metrics."""
        attempts = self.choose(samples, rng)
        continued = self._continue(samples, attempts, prompt_of)
        score(continued)
        verdicts = [
            accept(
                c.response_length - a.prefix_ids.numel(),
                c.correct,
                count_waits(self.processor.decode(c.response_ids[a.prefix_ids.numel() - a.trigger_ids_count :])),
                self.config,
            )
            for a, c in zip(attempts, continued, strict=True)
        ]
        accepted_pairs = [
            (samples[a.index].query_index, k)
            for k, (a, (ok, _)) in enumerate(zip(attempts, verdicts, strict=True))
            if ok
        ]
        kept = {k for _, k in cap_per_query(accepted_pairs, self.config.max_accepted_per_query)}
        result = list(samples)
        for k in kept:
            result[attempts[k].index] = replace(continued[k], accepted_rethink=True)
        records = self._records(samples, attempts, continued, kept)
        metrics = rethink_metrics(records)
        metrics["rethink/attempted"] = float(len(attempts))
        metrics["rethink/accepted"] = float(len(kept))
        for _, reason in verdicts:
            metrics[f"rethink/reject_{reason}"] = metrics.get(f"rethink/reject_{reason}", 0.0) + 1.0
        metrics.pop("rethink/reject_accepted", None)
        return result, metrics

    def _continue(
        self, samples: Sequence[Sample], attempts: Sequence[Attempt], prompt_of: Callable[[int], PromptInputs]
    ) -> list[Sample]:
        prompts = []
        for attempt in attempts:
            base = prompt_of(samples[attempt.index].example_index)
            prompts.append(replace(base, input_ids=torch.cat([base.input_ids, attempt.prefix_ids])))
        params = SamplingParams(max_new_tokens=self.config.max_new_tokens, temperature=self.config.temperature)
        groups = self.engine.generate(prompts, params) if prompts else []
        continued = []
        for attempt, group in zip(attempts, groups, strict=True):
            original, generation = samples[attempt.index], group[0]
            response_ids = torch.cat([attempt.prefix_ids, generation.token_ids])
            continued.append(
                replace(
                    original,
                    response_ids=response_ids,
                    old_logprobs=torch.zeros(response_ids.numel()),
                    response_text=self.processor.decode(response_ids),
                    ended_with_eos=generation.ended_with_eos,
                    forced_rethink=True,
                )
            )
        return continued

    def _records(
        self, samples: Sequence[Sample], attempts: Sequence[Attempt], continued: Sequence[Sample], kept: set[int]
    ) -> list[RethinkRecord]:
        forced = {a.index: k for k, a in enumerate(attempts)}
        records = []
        for index, sample in enumerate(samples):
            k = forced.get(index)
            if k is None:
                records.append(
                    RethinkRecord(False, False, sample.correct, sample.correct, count_waits(sample.response_text))
                )
                continue
            generated = continued[k].response_ids[attempts[k].prefix_ids.numel() :]
            waits = count_waits(self.processor.decode(generated))
            records.append(RethinkRecord(True, k in kept, sample.correct, continued[k].correct, waits))
        return records
