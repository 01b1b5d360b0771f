"""Encoded prompts per example, built lazily: token ids kept per example, pixel tensors only within a byte budget.

At real pixel bounds one image's pixel tensor is tens of megabytes (1003520 pixels -> 4900 patches x 1176 floats =
22 MiB), so a cache counted in entries would hold gigabytes. The cheap part of an encoding (token ids and image grid,
kilobytes) is kept for up to `capacity` examples; pixel tensors live in a least-recently-used cache bounded in bytes
(`pixel_cache_bytes`, `data.pixel_cache_mb` in the RL config) and are rebuilt from the image on a miss. Rebuilding is
deterministic, so cached and rebuilt tensors are identical. Its cost decided the design (benchmarks/host_ram): about
0.2-0.4 s per megapixel image on one CPU core. The trainer asks for one example's pixels once per sample of its group
in a row, so a budget of a few images serves a micro-batch from one decode; when an episode's images exceed the budget,
each is processed about three times per episode (length check, rollout, update), some 15% of a tiny-model episode and
far less beside a real model's forward pass. The default budget (256 MiB) holds every image of the small default runs
(a few kB each) and about ten megapixel images; raising it to queries x image size processes each image once.
Host RAM held here is thus bounded by the budget plus `capacity` token-id encodings, whatever the episode size.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

import torch

from rethinker.data.images import load_example_images
from rethinker.data.schema import Example
from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.models.prompts import build_messages

DEFAULT_PIXEL_CACHE_BYTES = 256 * 1024 * 1024
"""Pixel tensors kept for reuse, in bytes: about ten 1-megapixel images, every image of the tiny default runs."""


def tensor_bytes(tensor: torch.Tensor) -> int:
    """Bytes of host memory a tensor's elements take."""
    return tensor.numel() * tensor.element_size()


class PixelCache:
    """Least-recently-used pixel tensors, one per example, at most `max_bytes` in all (larger ones are not kept)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"pixel cache budget must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes_held = 0
        self._entries: OrderedDict[int, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, index: int) -> torch.Tensor | None:
        """The cached pixels of example `index`, marked as most recently used, or None."""
        entry = self._entries.get(index)
        if entry is not None:
            self._entries.move_to_end(index)
        return entry

    def put(self, index: int, pixels: torch.Tensor) -> None:
        """Keep `pixels` for example `index`, evicting the least recently used entries to stay within budget."""
        size = tensor_bytes(pixels)
        if size > self.max_bytes:
            return
        self._drop(index)
        while self.bytes_held + size > self.max_bytes:
            self._drop(next(iter(self._entries)))
        self._entries[index] = pixels
        self.bytes_held += size

    def _drop(self, index: int) -> None:
        entry = self._entries.pop(index, None)
        if entry is not None:
            self.bytes_held -= tensor_bytes(entry)


class PromptBank:
    """Encodes prompts and images on demand; keeps token ids of `capacity` examples and pixels within budget."""

    def __init__(
        self,
        processor: VisionProcessor,
        examples: Sequence[Example],
        template: str,
        system: str | None,
        max_prompt_tokens: int,
        capacity: int = 512,
        pixel_cache_bytes: int = DEFAULT_PIXEL_CACHE_BYTES,
    ) -> None:
        self.processor = processor
        self.examples = examples
        self.template = template
        self.system = system
        self.max_prompt_tokens = max_prompt_tokens
        self.capacity = capacity
        self.pixel_cache = PixelCache(pixel_cache_bytes)
        self.pixel_hits = 0
        self.pixel_misses = 0
        self.encode_seconds = 0.0
        self._ids: OrderedDict[int, PromptInputs] = OrderedDict()

    def __len__(self) -> int:
        return len(self.examples)

    def _encode(self, index: int) -> PromptInputs:
        """Render, decode the images and encode example `index` (raises `PromptTooLongError` rather than truncating)."""
        start = time.perf_counter()
        example = self.examples[index]
        text = self.processor.render(build_messages(example, self.template, self.system))
        size = self.processor.image_processor.size
        images = load_example_images(example, min_pixels=size.shortest_edge, max_pixels=size.longest_edge)
        encoded = self.processor.encode(text, images, max_length=self.max_prompt_tokens)
        self.encode_seconds += time.perf_counter() - start
        if images:
            self.pixel_misses += 1
        return encoded

    def _remember(self, index: int, encoded: PromptInputs) -> PromptInputs:
        """Cache the token ids (and, within budget, the pixels) of a fresh encoding; returns the kept ids entry."""
        ids = PromptInputs(encoded.input_ids, None, encoded.image_grid_thw)
        self._ids[index] = ids
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        if encoded.pixel_values is not None:
            self.pixel_cache.put(index, encoded.pixel_values)
        return ids

    def input_ids(self, index: int) -> torch.Tensor:
        """The prompt token ids of example `index`, images expanded; encodes (and caches) it when not yet known."""
        known = self._ids.get(index)
        if known is not None:
            self._ids.move_to_end(index)
            return known.input_ids
        return self._remember(index, self._encode(index)).input_ids

    def get(self, index: int) -> PromptInputs:
        """The encoded prompt of example `index` with its pixels (raises `PromptTooLongError`, never truncates)."""
        known = self._ids.get(index)
        if known is None:
            encoded = self._encode(index)
            self._remember(index, encoded)
            return encoded
        self._ids.move_to_end(index)
        if known.image_grid_thw is None:
            return known
        values = self.pixel_cache.get(index)
        if values is None:
            values = self._encode(index).pixel_values
            self.pixel_cache.put(index, values)
        else:
            self.pixel_hits += 1
        return PromptInputs(known.input_ids, values, known.image_grid_thw)

    def pixels(self, index: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(pixel_values, image_grid_thw) of example `index`."""
        encoded = self.get(index)
        return encoded.pixel_values, encoded.image_grid_thw

    def metrics(self) -> dict[str, float]:
        """`prompts/*`: pixel cache hits, misses (images processed), bytes and entries held, seconds encoding."""
        return {
            "prompts/pixel_hits": float(self.pixel_hits),
            "prompts/pixel_misses": float(self.pixel_misses),
            "prompts/pixel_bytes_held": float(self.pixel_cache.bytes_held),
            "prompts/pixel_entries": float(len(self.pixel_cache)),
            "prompts/encode_s": self.encode_seconds,
        }
