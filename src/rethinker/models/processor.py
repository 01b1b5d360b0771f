"""Turn chat messages and images into model inputs, with image tokens expanded by the project itself.

transformers' Qwen-VL `AutoProcessor` also builds a video processor that needs torchvision; training only needs
images, so the project pairs the checkpoint's tokenizer with the Pillow-backed Qwen2-VL image processor and expands
`<|image_pad|>` itself. Saved checkpoints keep the standard files, so plain `AutoProcessor` still loads them wherever
torchvision exists.

Qwen2-VL, Qwen2.5-VL and Qwen3-VL share this image processor, the `<|image_pad|>` token and the image-token count
(grid cells / merge_size**2); they differ in patch size (14, or 16 for Qwen3-VL) and normalisation, which come from
the checkpoint's `preprocessor_config.json` and are checked against its model config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, Qwen2VLImageProcessorPil

IMAGE_PAD = "<|image_pad|>"


def mm_token_type_ids(input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    """1 where an image token stands, else 0: Qwen-VL models need it to give image tokens their 2D (mRoPE) positions.

    Without it, transformers gives image tokens plain 1D positions, unlike those real checkpoints were trained with.
    """
    return (input_ids == image_token_id).long()


def processor_mismatches(
    model_config: dict[str, Any], image_processor: Qwen2VLImageProcessorPil, image_token_id: int
) -> list[str]:
    """Where a checkpoint's image processor or tokenizer disagrees with its model config (empty when they agree).

    A patch or merge size from another family, or an image token id from another tokenizer, would feed the vision
    tower wrongly shaped pixels or misplace image features; catching it at load time names the culprit.
    """
    vision = model_config.get("vision_config") or {}
    pairs = (
        ("patch_size", vision.get("patch_size"), image_processor.patch_size),
        ("merge_size", vision.get("spatial_merge_size"), image_processor.merge_size),
        ("temporal_patch_size", vision.get("temporal_patch_size"), image_processor.temporal_patch_size),
        ("image_token_id", model_config.get("image_token_id"), image_token_id),
    )
    return [
        f"{name}: model config says {expected}, processor has {actual}"
        for name, expected, actual in pairs
        if expected is not None and expected != actual
    ]


def mrope_positions(
    model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_grid_thw: torch.Tensor | None
) -> torch.Tensor:
    """The model's own 3D (mRoPE) positions [3, rows, length] of left-padded rows; pads get position 0.

    Passing these explicitly lets a sequence be run in parts (prompt, then continuation) with the positions one pass
    over the whole row would use.
    """
    token_types = mm_token_type_ids(input_ids, model.config.image_token_id)
    positions, _ = model.model.get_rope_index(
        input_ids, mm_token_type_ids=token_types, image_grid_thw=image_grid_thw, attention_mask=attention_mask
    )
    return positions


class PromptTooLongError(ValueError):
    """A prompt (image tokens included) exceeds the allowed length; it must be skipped, never truncated."""


@dataclass(frozen=True)
class PromptInputs:
    """A tokenised prompt with its images' pixels: what a rollout engine or a forward pass consumes."""

    input_ids: torch.Tensor
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None

    @property
    def length(self) -> int:
        """Number of prompt tokens, image tokens included."""
        return int(self.input_ids.numel())


class VisionProcessor:
    """The checkpoint's tokenizer and chat template plus a Qwen2-VL image processor (no torchvision needed)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, image_processor: Qwen2VLImageProcessorPil) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image_pad_id = tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        if self.image_pad_id is None or self.image_pad_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {IMAGE_PAD} token: not a Qwen-VL tokenizer")
        self.merge_size = int(image_processor.merge_size)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, min_pixels: int | None = None, max_pixels: int | None = None
    ) -> VisionProcessor:
        """Load the tokenizer and image processor of a local Qwen-VL checkpoint, optionally overriding pixel bounds.

        When the directory holds the model's `config.json`, the processor must agree with it (see
        `processor_mismatches`), else a `ValueError` lists each disagreement.
        """
        path = Path(path)
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        config_file = path / "preprocessor_config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{config_file} not found: not a Qwen-VL checkpoint directory")
        config: dict[str, Any] = json.loads(config_file.read_text())
        bounds = {"min_pixels": min_pixels, "max_pixels": max_pixels}
        size = dict(config.get("size") or {})
        for key, edge in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
            value = bounds[key] if bounds[key] is not None else config.get(key, size.get(edge))
            if value is not None:
                config[key] = int(value)
                size[edge] = int(value)
        config["size"] = size
        kept = {k: v for k, v in config.items() if not k.endswith("_type") and k != "processor_class"}
        processor = cls(tokenizer, Qwen2VLImageProcessorPil(**kept))
        model_config_file = path / "config.json"
        if model_config_file.is_file():
            model_config = json.loads(model_config_file.read_text())
            problems = processor_mismatches(model_config, processor.image_processor, processor.image_pad_id)
            if problems:
                raise ValueError(f"{path}: processor files do not match the model: {'; '.join(problems)}")
        return processor

    @property
    def special_token_ids(self) -> list[int]:
        """Every special token id except EOS: sampling must never emit these."""
        eos = self.tokenizer.eos_token_id
        return sorted({i for i in self.tokenizer.all_special_ids if i != eos})

    def render(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        """Render chat messages to text with the checkpoint's chat template (one `<|image_pad|>` per image)."""
        return self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def encode(self, text: str, images: Sequence[Image.Image], max_length: int | None = None) -> PromptInputs:
        """Tokenise rendered text, expanding each `<|image_pad|>` to its image's token count; never truncates."""
        pieces = text.split(IMAGE_PAD)
        if len(pieces) - 1 != len(images):
            raise ValueError(f"prompt has {len(pieces) - 1} image placeholders but {len(images)} images were given")
        pixel_values = grid = None
        counts: list[int] = []
        if images:
            processed = self.image_processor(images=list(images), return_tensors="pt")
            pixel_values, grid = processed["pixel_values"], processed["image_grid_thw"]
            counts = [int(row.prod()) // self.merge_size**2 for row in grid]
        ids: list[int] = []
        for i, piece in enumerate(pieces):
            ids.extend(self.tokenizer.encode(piece, add_special_tokens=False))
            if i < len(counts):
                ids.extend([self.image_pad_id] * counts[i])
        if max_length is not None and len(ids) > max_length:
            raise PromptTooLongError(f"prompt is {len(ids)} tokens (images included), over the limit of {max_length}")
        return PromptInputs(torch.tensor(ids, dtype=torch.long), pixel_values, grid)

    def decode(self, token_ids: Sequence[int]) -> str:
        """Decode generated token ids to text, dropping special tokens."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)
