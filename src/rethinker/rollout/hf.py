"""Rollouts on the trainer's own Hugging Face model: one prefill per prompt, a lean decode loop for its group.

`generate` is general and pays for it at every token (input preparation, mask building, a growing cache, logits
processors). Here each prompt is prefilled once by the model's own forward (vision encoder, 3D positions), its cache is
copied to the `n` rows of its group, and decoding calls the text decoder's layers directly with a preallocated cache.
Decoding reads the model's own weights in place, so it always samples from the current policy, and reproduces the
model's forward exactly (see `rollout/decode.py`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, PreTrainedModel

from rethinker.models.processor import PromptInputs, VisionProcessor, mm_token_type_ids, mrope_positions
from rethinker.rollout.base import Generation, SamplingParams, groups_per_batch
from rethinker.rollout.decode import decoder_for
from rethinker.rollout.kv_cache import RolloutCache
from rethinker.rollout.sampling import sample_next


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
        self.timings = {"prefill_s": 0.0, "decode_s": 0.0}
        """Seconds the last `generate` call spent prefilling prompts and decoding (sampling included)."""

    @classmethod
    def for_processor(cls, model: PreTrainedModel, processor: VisionProcessor, batch_size: int = 64) -> HFRolloutEngine:
        """An engine whose EOS, padding and blocked tokens come from the checkpoint's processor."""
        tokenizer = processor.tokenizer
        return cls(model, tokenizer.eos_token_id, tokenizer.pad_token_id, processor.special_token_ids, batch_size)

    def sync_weights(self) -> None:
        """Nothing to do: generation uses the trainer's model object."""

    def sleep(self) -> None:
        """Nothing to free: the engine holds no memory of its own between rollouts."""

    def generate(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[list[Generation]]:
        """Sample `params.n` responses per prompt, at most `batch_size` sequences (whole groups) at a time."""
        per_batch = groups_per_batch(self.batch_size, params.n)
        groups: list[list[Generation]] = []
        self.timings = {"prefill_s": 0.0, "decode_s": 0.0}
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(prompts), per_batch):
                groups.extend(self._generate_groups(prompts[start : start + per_batch], params))
        finally:
            self.model.train(was_training)
        return groups

    def _blocked_mask(self, vocab_size: int, device: torch.device) -> torch.Tensor | None:
        if not self.blocked_ids:
            return None
        mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
        mask[[i for i in self.blocked_ids if i < vocab_size]] = True
        return mask

    def _prefill(self, prompts: Sequence[PromptInputs]) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
        """Last-position logits, the cache, the attention mask and each row's next text position, one row per prompt."""
        device = self.model.device
        batch = {
            k: v.to(device) for k, v in collate_prompts(prompts, self.pad_id, self.model.config.image_token_id).items()
        }
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        attention_mask = batch["attention_mask"]
        positions = mrope_positions(self.model, batch["input_ids"], attention_mask, batch.get("image_grid_thw"))
        out = self.model(**batch, position_ids=positions, use_cache=True, logits_to_keep=1)
        next_positions = positions.masked_fill(attention_mask[None] == 0, -1).amax(dim=(0, 2)) + 1
        return out.logits[:, -1], out.past_key_values, attention_mask.bool(), next_positions

    @torch.no_grad()
    def _generate_groups(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[list[Generation]]:
        started = time.perf_counter()
        decoder = decoder_for(self.model)
        logits, prefill, prompt_mask, next_positions = self._prefill(prompts)
        prefilled = time.perf_counter()
        self.timings["prefill_s"] += prefilled - started
        n, steps = params.n, params.max_new_tokens
        cache = RolloutCache.from_prefill(prefill, n, steps)
        del prefill
        rows = len(prompts) * n
        device = logits.device
        visible = None
        if not bool(prompt_mask.all()):
            visible = torch.ones((rows, cache.length + steps), dtype=torch.bool, device=device)
            visible[:, : cache.length] = prompt_mask.repeat_interleave(n, dim=0)
        positions = next_positions.repeat_interleave(n, dim=0)
        logits = logits.repeat_interleave(n, dim=0)
        blocked = self._blocked_mask(logits.shape[-1], device)
        tokens = torch.full((rows, steps), self.pad_id, dtype=torch.long, device=device)
        logprobs = torch.zeros((rows, steps), dtype=torch.float32, device=device)
        finished = torch.zeros(rows, dtype=torch.bool, device=device)
        taken = 0
        for step in range(steps):
            chosen, logprobs[:, step] = sample_next(logits, params, blocked)
            tokens[:, step] = chosen
            finished |= chosen == self.eos_id
            taken = step + 1
            if step + 1 == steps or bool(finished.all()):
                break
            window = None if visible is None else visible[:, : cache.length + 1]
            logits = decoder.step(tokens[:, step], positions + step, window, cache)
        flat = [self._trim(t, lp) for t, lp in zip(tokens[:, :taken].cpu(), logprobs[:, :taken].cpu(), strict=True)]
        self.timings["decode_s"] += time.perf_counter() - prefilled
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _trim(self, tokens: torch.Tensor, logprobs: torch.Tensor) -> Generation:
        eos_positions = (tokens == self.eos_id).nonzero()
        if eos_positions.numel():
            end = int(eos_positions[0]) + 1
            return Generation(tokens[:end].clone(), logprobs[:end].clone(), True)
        return Generation(tokens.clone(), logprobs.clone(), False)
