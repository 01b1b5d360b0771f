"""Model responses to benchmark problems: prompts built per batch, batched generation, optional test-time rethinking.

Images are decoded and turned into pixels one batch at a time, so memory holds one batch, never the benchmark. A
prompt longer than the limit (image tokens included) is skipped and reported, never truncated. Test-time forced
rethinking continues each response from prompt + response + "\\n\\nWait" with the same pixels (SPEC section 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from rethinker.data.images import load_example_images
from rethinker.data.schema import Example
from rethinker.eval.suites.base import Benchmark
from rethinker.models.processor import PromptInputs, PromptTooLongError, VisionProcessor
from rethinker.models.prompts import build_messages
from rethinker.rollout.base import Generation, RolloutEngine, SamplingParams
from rethinker.rollout.triggers import BARE_WAIT

PROMPT_TOO_LONG = "prompt_too_long"
IDENTITY_TEMPLATE = "{question}"
"""Passed to a benchmark's `build_prompt` to get its question text (choices included) without its instruction."""


@dataclass(frozen=True)
class PromptStyle:
    """How problems become chat prompts: None keeps each benchmark's official query, else a named/user template."""

    template: str | None = None
    system: str | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None


@dataclass(frozen=True)
class Attempt:
    """One response to a problem, and with rethinking the whole text after the trigger and its continuation."""

    response: str
    response_tokens: int
    ended_with_eos: bool
    rethought: str | None = None
    rethink_tokens: int = 0


@dataclass(frozen=True)
class ProblemResponses:
    """A problem's prompt length and its responses; `skipped` names why none were generated."""

    example: Example
    prompt_tokens: int
    attempts: tuple[Attempt, ...]
    skipped: str | None = None


def chat_messages(example: Example, benchmark: Benchmark, style: PromptStyle) -> list[dict]:
    """The chat messages of one problem: the official query as is, or the question text inside the template."""
    if style.template is None:
        return build_messages(example, "plain", style.system, question=benchmark.build_prompt(example, None))
    question = benchmark.build_prompt(example, IDENTITY_TEMPLATE)
    return build_messages(example, style.template, style.system, question=question)


def encode_problem(
    example: Example,
    benchmark: Benchmark,
    style: PromptStyle,
    processor: VisionProcessor,
    max_prompt_tokens: int | None,
) -> PromptInputs:
    """The tokenised prompt with its images' pixels; `PromptTooLongError` when it is over `max_prompt_tokens`."""
    images = load_example_images(example, min_pixels=style.min_pixels, max_pixels=style.max_pixels)
    text = processor.render(chat_messages(example, benchmark, style))
    return processor.encode(text, images, max_length=max_prompt_tokens)


def continuation_prompt(prompt: PromptInputs, generation: Generation, trigger_ids: torch.Tensor) -> PromptInputs:
    """Prompt + response (its EOS dropped) + trigger, with the prompt's pixels: where a forced rethink continues."""
    body = generation.token_ids[:-1] if generation.ended_with_eos else generation.token_ids
    return PromptInputs(torch.cat([prompt.input_ids, body, trigger_ids]), prompt.pixel_values, prompt.image_grid_thw)


class ResponseGenerator:
    """Generates (and optionally rethinks) responses for batches of problems with one engine and sampling setting."""

    def __init__(
        self,
        engine: RolloutEngine,
        processor: VisionProcessor,
        params: SamplingParams,
        max_prompt_tokens: int,
        rethink: bool = False,
        trigger: str = BARE_WAIT,
    ) -> None:
        self.engine = engine
        self.processor = processor
        self.params = params
        self.max_prompt_tokens = max_prompt_tokens
        self.rethink = rethink
        self.trigger_ids = torch.tensor(processor.tokenizer.encode(trigger, add_special_tokens=False), dtype=torch.long)

    def respond(self, examples: Sequence[Example], benchmark: Benchmark, style: PromptStyle) -> list[ProblemResponses]:
        """Responses for each problem in order; over-long prompts come back with no attempts and `skipped` set."""
        prompts: dict[int, PromptInputs] = {}
        too_long: dict[int, int] = {}
        for index, example in enumerate(examples):
            try:
                prompts[index] = encode_problem(example, benchmark, style, self.processor, self.max_prompt_tokens)
            except PromptTooLongError:
                too_long[index] = self._length_without_limit(example, benchmark, style)
        order = sorted(prompts)
        groups = self.engine.generate([prompts[index] for index in order], self.params) if order else []
        attempts = {index: self._attempts(group) for index, group in zip(order, groups, strict=True)}
        if self.rethink and order:
            attempts = self._rethink(prompts, groups, order, attempts)
        return [
            ProblemResponses(example, prompts[index].length, attempts[index])
            if index in prompts
            else ProblemResponses(example, too_long[index], (), PROMPT_TOO_LONG)
            for index, example in enumerate(examples)
        ]

    def _length_without_limit(self, example: Example, benchmark: Benchmark, style: PromptStyle) -> int:
        """The full length of an over-long prompt, for the report."""
        return encode_problem(example, benchmark, style, self.processor, max_prompt_tokens=None).length

    def _attempts(self, group: Sequence[Generation]) -> tuple[Attempt, ...]:
        """The decoded responses of one problem."""
        return tuple(
            Attempt(self.processor.decode(generation.token_ids.tolist()), generation.length, generation.ended_with_eos)
            for generation in group
        )

    def _rethink(
        self,
        prompts: dict[int, PromptInputs],
        groups: Sequence[Sequence[Generation]],
        order: Sequence[int],
        attempts: dict[int, tuple[Attempt, ...]],
    ) -> dict[int, tuple[Attempt, ...]]:
        """Continue every response after the trigger; the rethought text is response + trigger + continuation."""
        pairs = [(index, generation) for index, group in zip(order, groups, strict=True) for generation in group]
        continuations = [
            continuation_prompt(prompts[index], generation, self.trigger_ids) for index, generation in pairs
        ]
        generated = [group[0] for group in self.engine.generate(continuations, replace(self.params, n=1))]
        rethought: dict[int, list[Attempt]] = {index: [] for index in order}
        for (index, _), continuation, second in zip(pairs, continuations, generated, strict=True):
            first = attempts[index][len(rethought[index])]
            tail = continuation.input_ids[prompts[index].length :].tolist() + second.token_ids.tolist()
            rethought[index].append(replace(first, rethought=self.processor.decode(tail), rethink_tokens=second.length))
        return {index: tuple(items) for index, items in rethought.items()}
