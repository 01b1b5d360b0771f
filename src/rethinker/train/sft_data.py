"""SFT conversations as model inputs: rendered with the chat template, assistant tokens marked, padded into batches.

A conversation is rendered turn by turn, so its tokens are exactly those a chat at inference would see: the prompt
up to `<|im_start|>assistant\\n`, then the answer. Only each assistant turn's content and its end token are trained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rethinker.data.errors import DataError
from rethinker.data.images import load_image
from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.sharegpt import SFTRecord, load_sharegpt
from rethinker.data.synthetic import FAMILIES
from rethinker.data.teacher import Teacher
from rethinker.models.processor import IMAGE_PAD, VisionProcessor
from rethinker.sft_config import SFTDataConfig, SFTEvalConfig
from rethinker.train.sft_synthetic import synthetic_sft_records


class ConversationTooLongError(ValueError):
    """A conversation (image tokens included) is longer than `train.max_length`; it is skipped, never truncated."""


@dataclass(frozen=True)
class EncodedConversation:
    """Token ids of a whole conversation, which of them are trained, and its images' pixels."""

    input_ids: torch.Tensor
    trained: torch.Tensor
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None

    @property
    def length(self) -> int:
        """Number of tokens, image tokens included."""
        return int(self.input_ids.numel())

    @property
    def trained_tokens(self) -> int:
        """Number of tokens the loss is taken on."""
        return int(self.trained.sum())


@dataclass(frozen=True)
class SFTBatch:
    """Right-padded conversations; `trained[:, t]` says whether token t is a target (predicted from t - 1)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    trained: torch.Tensor
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None


def chat_content(message: dict[str, str]) -> dict[str, Any]:
    """A message for the chat template: user text split at `<image>` marks into text and image parts."""
    if message["role"] != "user":
        return {"role": message["role"], "content": message["content"]}
    parts: list[dict[str, str]] = []
    pieces = message["content"].split(IMAGE_PLACEHOLDER)
    for index, piece in enumerate(pieces):
        if piece:
            parts.append({"type": "text", "text": piece})
        if index < len(pieces) - 1:
            parts.append({"type": "image"})
    return {"role": "user", "content": parts}


def _extend(rendered: str, done: str) -> str:
    """The part of `rendered` after `done`, which it must start with."""
    if not rendered.startswith(done):
        raise ValueError("the chat template does not render a conversation as a prefix of its continuation")
    return rendered[len(done) :]


def segments(processor: VisionProcessor, messages: Sequence[dict[str, str]]) -> list[tuple[str, bool]]:
    """The rendered conversation as (text, trained) pieces: each assistant content with its end token is trained."""
    chat = [chat_content(m) for m in messages]
    end_token = processor.tokenizer.eos_token
    pieces: list[tuple[str, bool]] = []
    done = ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _extend(processor.render(chat[:index], add_generation_prompt=True), done)
        answer = _extend(processor.render(chat[: index + 1], add_generation_prompt=False), done + prompt)
        cut = answer.rfind(end_token)
        if cut < 0:
            raise ValueError(f"the chat template does not end an assistant turn with {end_token!r}")
        cut += len(end_token)
        pieces.extend([(prompt, False), (answer[:cut], True), (answer[cut:], False)])
        done += prompt + answer
    pieces.append((_extend(processor.render(chat, add_generation_prompt=False), done), False))
    return [(text, trained) for text, trained in pieces if text]


class ConversationEncoder:
    """Turns `SFTRecord`s into `EncodedConversation`s, refusing any longer than `max_length` tokens."""

    def __init__(self, processor: VisionProcessor, max_length: int) -> None:
        self.processor = processor
        self.max_length = max_length

    def encode(self, record: SFTRecord) -> EncodedConversation:
        """Tokenise a conversation piece by piece, images expanded in place; raises `ConversationTooLongError`."""
        size = self.processor.image_processor.size
        images = [
            load_image(
                src, min_pixels=size.shortest_edge, max_pixels=size.longest_edge, where=f"{record.origin} image {i}"
            )
            for i, src in enumerate(record.images)
        ]
        ids, trained, pixels, grids = [], [], [], []
        used = 0
        for text, is_trained in segments(self.processor, record.messages):
            count = text.count(IMAGE_PAD)
            encoded = self.processor.encode(text, images[used : used + count])
            used += count
            ids.append(encoded.input_ids)
            trained.append(torch.full_like(encoded.input_ids, is_trained, dtype=torch.bool))
            if encoded.pixel_values is not None:
                pixels.append(encoded.pixel_values)
                grids.append(encoded.image_grid_thw)
        input_ids = torch.cat(ids)
        if input_ids.numel() > self.max_length:
            raise ConversationTooLongError(
                f"{record.origin or record.id}: {input_ids.numel()} tokens (images included), over {self.max_length}"
            )
        return EncodedConversation(
            input_ids=input_ids,
            trained=torch.cat(trained),
            pixel_values=torch.cat(pixels) if pixels else None,
            image_grid_thw=torch.cat(grids) if grids else None,
        )


def length_sorted_chunks(items: Sequence[EncodedConversation], size: int) -> list[list[EncodedConversation]]:
    """Chunks of at most `size` conversations, sorted by length so padding inside a chunk stays small."""
    ordered = sorted(items, key=lambda item: item.length)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def collate(items: Sequence[EncodedConversation], pad_id: int) -> SFTBatch:
    """Right-pad conversations into one batch, their images' pixels concatenated in order."""
    width = max(item.length for item in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    trained = torch.zeros((len(items), width), dtype=torch.bool)
    for row, item in enumerate(items):
        input_ids[row, : item.length] = item.input_ids
        attention_mask[row, : item.length] = 1
        trained[row, : item.length] = item.trained
    with_images = [item for item in items if item.pixel_values is not None]
    return SFTBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        trained=trained,
        pixel_values=torch.cat([item.pixel_values for item in with_images]) if with_images else None,
        image_grid_thw=torch.cat([item.image_grid_thw for item in with_images]) if with_images else None,
    )


def _held_out_split(records: list[SFTRecord], fraction: float, seed: int) -> tuple[list[SFTRecord], list[SFTRecord]]:
    """(train, held-out): a seeded `fraction` of the records held out, both kept in file order."""
    if fraction <= 0:
        return records, []
    held = max(1, round(fraction * len(records)))
    order = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist()
    held_indices = set(order[:held])
    train = [r for i, r in enumerate(records) if i not in held_indices]
    return train, [r for i, r in enumerate(records) if i in held_indices]


def build_sft_records(
    data: SFTDataConfig, evaluation: SFTEvalConfig, seed: int
) -> tuple[list[SFTRecord], list[SFTRecord]]:
    """(train, held-out) conversations: synthetic splits, or a file with a held-out file or fraction."""
    if data.source == "synthetic":
        synth = data.synthetic
        teacher = Teacher(
            miscount_from=synth.miscount_from,
            miscount_prob=synth.miscount_prob,
            recheck_fix_prob=synth.recheck_fix_prob,
            miscount_direction=synth.miscount_direction,
            recheck_style=synth.recheck_style,
        )
        options = {"families": tuple(synth.families or FAMILIES), "image_size": synth.image_size, "teacher": teacher}
        train = synthetic_sft_records(synth.size, seed, synth.recheck_prob, data.template, **options)
        held = synthetic_sft_records(evaluation.size, seed, synth.recheck_prob, data.template, split="eval", **options)
        return train, held
    records = load_sharegpt(data.path, image_root=data.image_root, format=data.format)
    if evaluation.path:
        held = load_sharegpt(evaluation.path, image_root=data.image_root, format=data.format)
        train = records
    else:
        train, held = _held_out_split(records, evaluation.fraction, seed)
    if not train:
        raise DataError(f"{data.path}: no training conversations left (empty file, or all held out)")
    return train, held[: evaluation.size]


def total_steps(epochs: float, steps: int | None, n_train: int, global_batch_size: int) -> int:
    """Optimizer steps of a run: `steps` when given, else enough global batches for `epochs` passes."""
    if steps is not None:
        return steps
    return max(1, math.ceil(epochs * n_train / global_batch_size))
