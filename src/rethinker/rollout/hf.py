"""Rollouts with Hugging Face `generate`: batched, left-padded, special tokens blocked, sampled log-probs recorded."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from rethinker.models.processor import PromptInputs, VisionProcessor, mm_token_type_ids
from rethinker.rollout.base import Generation, SamplingParams


class RecordLogprobs(LogitsProcessor):
    """Records each sampled token's log-probability under softmax(logits / temperature), before any filtering.

    Storing only the previous step's distribution (not every step's) keeps memory at one [batch, vocab] tensor: the
    token sampled at step t is read from `input_ids` at step t + 1, and the last one after `generate` returns.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature if temperature > 0 else 1.0
        self.previous: torch.Tensor | None = None
        self.values: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._take(input_ids[:, -1])
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def _take(self, sampled: torch.Tensor) -> None:
        if self.previous is not None:
            self.values.append(self.previous.gather(1, sampled[:, None]).squeeze(1))

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of all generated tokens, [batch, steps]."""
        self._take(last_tokens)
        self.previous = None
        return torch.stack(self.values, dim=1)


class BlockTokens(LogitsProcessor):
    """Makes the given token ids impossible to sample (image/video placeholders and other special tokens)."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        self.token_ids = torch.tensor(sorted(set(token_ids)), dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores[:, self.token_ids.to(scores.device)] = -float("inf")
        return scores


def collate_prompts(prompts: Sequence[PromptInputs], pad_id: int, image_token_id: int) -> dict[str, torch.Tensor]:
    """Left-pad prompts into one batch, concatenating their images' pixels and grids in order."""
    width = max(p.length for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - prompt.length :] = prompt.input_ids
        attention_mask[row, width - prompt.length :] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    with_images = [p for p in prompts if p.pixel_values is not None]
    if with_images:
        batch["pixel_values"] = torch.cat([p.pixel_values for p in with_images])
        batch["image_grid_thw"] = torch.cat([p.image_grid_thw for p in with_images])
        batch["mm_token_type_ids"] = mm_token_type_ids(input_ids, image_token_id)
    return batch


class HFRolloutEngine:
    """A rollout engine over the trainer's own model: weights are always in sync, no copy is made."""

    def __init__(
        self, model: PreTrainedModel, eos_id: int, pad_id: int, blocked_ids: Sequence[int], batch_size: int = 64
    ) -> None:
        self.model = model
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.blocked_ids = [i for i in blocked_ids if i != eos_id]
        self.batch_size = batch_size

    @classmethod
    def for_processor(cls, model: PreTrainedModel, processor: VisionProcessor, batch_size: int = 64) -> HFRolloutEngine:
        """An engine whose EOS, padding and blocked tokens come from the checkpoint's processor."""
        tokenizer = processor.tokenizer
        return cls(model, tokenizer.eos_token_id, tokenizer.pad_token_id, processor.special_token_ids, batch_size)

    def sync_weights(self) -> None:
        """Nothing to do: generation uses the trainer's model object."""

    def generate(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[list[Generation]]:
        """Sample `params.n` responses per prompt, in batches of at most `batch_size` sequences."""
        flat = [prompt for prompt in prompts for _ in range(params.n)]
        results: list[Generation] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(flat), self.batch_size):
                results.extend(self._generate_batch(flat[start : start + self.batch_size], params))
        finally:
            self.model.train(was_training)
        return [results[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]

    def _processors(self, params: SamplingParams, recorder: RecordLogprobs) -> LogitsProcessorList:
        processors: list[LogitsProcessor] = [recorder, BlockTokens(self.blocked_ids)]
        if params.temperature > 0:
            if params.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(params.temperature))
            if params.top_k > 0:
                processors.append(TopKLogitsWarper(params.top_k))
            if params.top_p < 1.0:
                processors.append(TopPLogitsWarper(params.top_p))
        return LogitsProcessorList(processors)

    @torch.no_grad()
    def _generate_batch(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[Generation]:
        batch = collate_prompts(prompts, self.pad_id, self.model.config.image_token_id)
        device = self.model.device
        batch = {k: v.to(device) for k, v in batch.items()}
        recorder = RecordLogprobs(params.temperature)
        config = GenerationConfig(
            do_sample=params.temperature > 0,
            max_new_tokens=params.max_new_tokens,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
            temperature=None,
            top_k=None,
            top_p=None,
        )
        sequences = self.model.generate(
            **batch, generation_config=config, logits_processor=self._processors(params, recorder)
        )
        new_tokens = sequences[:, batch["input_ids"].shape[1] :].cpu()
        logprobs = recorder.finish(new_tokens[:, -1].to(device)).cpu()
        return [self._trim(tokens, lps) for tokens, lps in zip(new_tokens, logprobs, strict=True)]

    def _trim(self, tokens: torch.Tensor, logprobs: torch.Tensor) -> Generation:
        eos_positions = (tokens == self.eos_id).nonzero()
        if eos_positions.numel():
            end = int(eos_positions[0]) + 1
            return Generation(tokens[:end].clone(), logprobs[:end].clone(), True)
        return Generation(tokens.clone(), logprobs.clone(), False)
