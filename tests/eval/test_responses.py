"""Prompts for benchmark problems and the continuation prompt of a test-time rethink."""

from __future__ import annotations

from pathlib import Path

import torch

from rethinker.eval.registry import get_benchmark
from rethinker.eval.responses import PromptStyle, chat_messages, continuation_prompt
from rethinker.models.processor import PromptInputs
from rethinker.rollout.base import Generation

MATHVISTA = Path(__file__).parent / "fixtures" / "mathvista_testmini.json"


def text_of(messages: list[dict]) -> str:
    return "".join(part.get("text", "") for part in messages[-1]["content"])


def test_official_query_is_sent_as_is_and_a_template_wraps_the_question() -> None:
    benchmark = get_benchmark("mathvista")
    example = next(e for e in benchmark.load(MATHVISTA) if e.choices)
    official = chat_messages(example, benchmark, PromptStyle())
    assert text_of(official) == benchmark.build_prompt(example, None)
    templated = chat_messages(example, benchmark, PromptStyle(template="default"))
    text = text_of(templated)
    assert text.startswith(example.question) and example.choices[0] in text
    assert text.endswith("put your final answer within \\boxed{}.") and "{{" not in text
    assert [part["type"] for part in templated[-1]["content"]].count("image") == len(example.images)


def test_r1_template_brings_its_system_prompt() -> None:
    benchmark = get_benchmark("mathvista")
    example = benchmark.load(MATHVISTA, limit=1)[0]
    messages = chat_messages(example, benchmark, PromptStyle(template="r1"))
    assert messages[0]["role"] == "system" and "<think>" in messages[0]["content"]


def test_continuation_drops_the_eos_and_keeps_the_pixels() -> None:
    pixels, grid = torch.randn(4, 6), torch.tensor([[1, 2, 2]])
    prompt = PromptInputs(torch.tensor([1, 2, 3]), pixels, grid)
    trigger = torch.tensor([8, 9])
    ended = Generation(torch.tensor([5, 6, 0]), torch.zeros(3), ended_with_eos=True)
    cut = Generation(torch.tensor([5, 6, 7]), torch.zeros(3), ended_with_eos=False)
    assert continuation_prompt(prompt, ended, trigger).input_ids.tolist() == [1, 2, 3, 5, 6, 8, 9]
    continued = continuation_prompt(prompt, cut, trigger)
    assert continued.input_ids.tolist() == [1, 2, 3, 5, 6, 7, 8, 9]
    assert continued.pixel_values is pixels and continued.image_grid_thw is grid
