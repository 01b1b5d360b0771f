"""Encoded prompts per example, built lazily and kept in a small LRU cache (pixels are never held for a whole run)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

from rethinker.data.images import load_example_images
from rethinker.data.schema import Example
from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.models.prompts import build_messages


class PromptBank:
    """Encodes an example's chat prompt and images on demand; at most `capacity` encodings are kept."""

    def __init__(
        self,
        processor: VisionProcessor,
        examples: Sequence[Example],
        template: str,
        system: str | None,
        max_prompt_tokens: int,
        capacity: int = 512,
    ) -> None:
        self.processor = processor
        self.examples = examples
        self.template = template
        self.system = system
        self.max_prompt_tokens = max_prompt_tokens
        self.capacity = capacity
        self._cache: OrderedDict[int, PromptInputs] = OrderedDict()

    def __len__(self) -> int:
        return len(self.examples)

    def get(self, index: int) -> PromptInputs:
        """The encoded prompt of example `index` (raises `PromptTooLongError` rather than truncating)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        example = self.examples[index]
        text = self.processor.render(build_messages(example, self.template, self.system))
        size = self.processor.image_processor.size
        images = load_example_images(example, min_pixels=size.shortest_edge, max_pixels=size.longest_edge)
        encoded = self.processor.encode(text, images, max_length=self.max_prompt_tokens)
        self._cache[index] = encoded
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return encoded

    def pixels(self, index: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(pixel_values, image_grid_thw) of example `index`."""
        encoded = self.get(index)
        return encoded.pixel_values, encoded.image_grid_thw
