"""Incremental decoding: the pieces always join into the text of decoding every token at once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rethinker.models.loading import load_processor
from rethinker.serve.decoding import IncrementalDecoder


@pytest.fixture(scope="module")
def processor(tiny_dir: Path):
    return load_processor(tiny_dir)


def _pieces(processor, ids: list[int]) -> list[str]:
    decoder = IncrementalDecoder(processor.decode)
    return [decoder.push(token) for token in ids] + [decoder.flush()]


def test_multibyte_text_streams_whole_characters(processor) -> None:
    text = "héllo 世界 🙂 x^2 = \\frac{1}{2}"
    ids = processor.tokenizer.encode(text, add_special_tokens=False)
    pieces = _pieces(processor, ids)
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)
    assert len([piece for piece in pieces if piece]) > 1


def test_random_tokens_join_to_the_full_decode(processor) -> None:
    rng = random.Random(0)
    vocabulary = len(processor.tokenizer)
    for _ in range(20):
        ids = [rng.randrange(vocabulary) for _ in range(rng.randint(1, 60))]
        assert "".join(_pieces(processor, ids)) == processor.decode(ids)
