"""PromptBank: token ids stay cached, pixels stay within their byte budget, rebuilt pixels equal cached ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rethinker.data.schema import Example
from rethinker.data.synthetic import make_synthetic
from rethinker.models.loading import load_processor
from rethinker.models.processor import PromptTooLongError, VisionProcessor
from rethinker.models.prompt_bank import PixelCache, PromptBank, tensor_bytes


@pytest.fixture(scope="module")
def processor(tiny_dir: Path) -> VisionProcessor:
    """The tiny checkpoint's processor (images of 84 x 84 pixels become 36 patches)."""
    return load_processor(tiny_dir)


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    """Twelve synthetic examples, one image each."""
    return make_synthetic(12, seed=3, families=("count",))


def image_bytes(processor: VisionProcessor, examples: list[Example]) -> int:
    """Bytes of one example's pixel tensor (every synthetic image has the same size)."""
    return tensor_bytes(PromptBank(processor, examples, "default", None, 4096).get(0).pixel_values)


def test_pixel_cache_evicts_least_recently_used_within_budget() -> None:
    cache = PixelCache(max_bytes=3 * 400)
    for index in range(3):
        cache.put(index, torch.full((10, 10), float(index)))
    assert cache.get(0) is not None
    cache.put(3, torch.zeros(10, 10))
    assert cache.get(1) is None
    assert {i for i in range(4) if cache.get(i) is not None} == {0, 2, 3}
    assert cache.bytes_held == 1200


def test_pixel_cache_refuses_an_entry_larger_than_its_budget() -> None:
    cache = PixelCache(max_bytes=100)
    cache.put(0, torch.zeros(5, 5))
    cache.put(1, torch.zeros(10, 10))
    assert cache.get(1) is None
    assert cache.get(0) is not None
    assert cache.bytes_held == 100


def test_pixel_cache_replacing_an_entry_counts_its_bytes_once() -> None:
    cache = PixelCache(max_bytes=1000)
    cache.put(0, torch.zeros(10, 10))
    cache.put(0, torch.zeros(5, 5))
    assert (len(cache), cache.bytes_held) == (1, 100)


def test_pixel_working_set_stays_within_budget_over_many_requests(
    processor: VisionProcessor, examples: list[Example]
) -> None:
    budget = 3 * image_bytes(processor, examples)
    bank = PromptBank(processor, examples, "default", None, 4096, pixel_cache_bytes=budget)
    for _ in range(2):
        for index in range(len(examples)):
            assert bank.pixels(index)[0] is not None
            assert bank.pixel_cache.bytes_held <= budget
    assert len(bank.pixel_cache) == 3
    assert bank.metrics()["prompts/pixel_bytes_held"] == budget
    assert bank.pixel_misses == 2 * len(examples)


def test_repeated_requests_for_one_example_hit_the_cache(processor: VisionProcessor, examples: list[Example]) -> None:
    bank = PromptBank(processor, examples, "default", None, 4096, pixel_cache_bytes=image_bytes(processor, examples))
    for _ in range(8):
        bank.pixels(5)
    assert (bank.pixel_misses, bank.pixel_hits) == (1, 7)


def test_cached_and_rebuilt_pixels_are_identical(processor: VisionProcessor, examples: list[Example]) -> None:
    cached = PromptBank(processor, examples, "default", None, 4096)
    rebuilt = PromptBank(processor, examples, "default", None, 4096, pixel_cache_bytes=0)
    for index in (0, 7, 0, 7):
        values, grid = cached.pixels(index)
        again, again_grid = rebuilt.pixels(index)
        assert torch.equal(values, again)
        assert torch.equal(grid, again_grid)
    assert cached.pixel_hits == 2
    assert rebuilt.pixel_hits == 0
    assert len(rebuilt.pixel_cache) == 0


def test_token_ids_stay_cached_when_pixels_are_rebuilt(processor: VisionProcessor, examples: list[Example]) -> None:
    bank = PromptBank(processor, examples, "default", None, 4096, pixel_cache_bytes=0)
    first = bank.get(4)
    encode_seconds = bank.encode_seconds
    assert bank.input_ids(4) is first.input_ids
    assert bank.encode_seconds == encode_seconds
    second = bank.get(4)
    assert second.input_ids is first.input_ids
    assert second.pixel_values is not first.pixel_values
    assert torch.equal(second.pixel_values, first.pixel_values)
    assert bank.pixel_misses == 2


def test_token_id_cache_keeps_at_most_capacity_examples(processor: VisionProcessor, examples: list[Example]) -> None:
    bank = PromptBank(processor, examples, "default", None, 4096, capacity=2)
    ids = [bank.input_ids(i) for i in range(3)]
    assert bank.input_ids(2) is ids[2]
    assert bank.input_ids(0) is not ids[0]
    assert torch.equal(bank.input_ids(0), ids[0])


def test_text_only_examples_are_served_from_the_token_cache(processor: VisionProcessor) -> None:
    examples = [Example(id="t", question="What is 2 + 3?", answer="5")]
    bank = PromptBank(processor, examples, "default", None, 4096)
    assert bank.pixels(0) == (None, None)
    assert bank.get(0) is bank.get(0)
    assert (bank.pixel_hits, bank.pixel_misses) == (0, 0)


def test_too_long_prompts_raise_every_time_and_are_not_cached(
    processor: VisionProcessor, examples: list[Example]
) -> None:
    bank = PromptBank(processor, examples, "default", None, max_prompt_tokens=8)
    for _ in range(2):
        with pytest.raises(PromptTooLongError):
            bank.get(0)
    assert len(bank.pixel_cache) == 0


def test_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        PixelCache(max_bytes=-1)


def test_misses_count_every_time_images_are_processed(processor: VisionProcessor, examples: list[Example]) -> None:
    bank = PromptBank(processor, examples, "default", None, 4096, pixel_cache_bytes=0)
    bank.input_ids(1)
    bank.input_ids(1)
    bank.get(1)
    assert bank.metrics()["prompts/pixel_misses"] == 2
    assert bank.metrics()["prompts/encode_s"] > 0
