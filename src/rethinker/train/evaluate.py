"""Held-out evaluation during training: greedy accuracy, and a readable sample of generations with their images."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from rethinker.data.images import load_example_images
from rethinker.models.prompt_bank import PromptBank
from rethinker.rewards.format import has_think_answer_format
from rethinker.rewards.registry import score_batch
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import SamplingParams
from rethinker.train.policy import Policy


def write_generation_sample(path: Path, bank: PromptBank, indices: list[int], texts: list[str], rewards: list[float]):
    """Write (image path, question, response, reward) lines, saving each image as PNG next to the file."""
    image_dir = path.parent / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for index, text, reward in zip(indices, texts, rewards, strict=True):
            example = bank.examples[index]
            image_paths = []
            for number, image in enumerate(load_example_images(example)):
                image_path = image_dir / f"{example.id}-{number}.png"
                if not image_path.exists():
                    image.save(image_path)
                image_paths.append(str(image_path.relative_to(path.parent)))
            row = {"id": example.id, "images": image_paths, "question": example.question, "gold": example.answer}
            f.write(json.dumps({**row, "response": text, "reward": reward}) + "\n")


def evaluate(
    policy: Policy,
    bank: PromptBank,
    reward_fn: Callable,
    verifier: Verifier,
    max_new_tokens: int,
    sample_path: Path | None,
    samples_to_log: int,
) -> dict[str, float]:
    """Greedy responses to every example of `bank`: `eval/acc`, `eval/reward`, `eval/format_rate`, `eval/len_mean` and
    the length limit they were generated under, `eval/max_new_tokens`.

    `eval/format_rate` is the share of responses in Vision-R1's `<think>...</think><answer>...</answer>` format.
    """
    indices = list(range(len(bank)))
    prompts = [bank.get(i) for i in indices]
    with torch.random.fork_rng():
        groups = policy.engine.generate(prompts, SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0))
    generations = [group[0] for group in groups]
    texts = [policy.processor.decode(g.token_ids) for g in generations]
    results = score_batch(reward_fn, texts, [bank.examples[i] for i in indices], verifier)
    if sample_path is not None and samples_to_log > 0:
        sample_path.parent.mkdir(parents=True, exist_ok=True)
        shown = indices[:samples_to_log]
        write_generation_sample(
            sample_path, bank, shown, texts[: len(shown)], [r.reward for r in results[: len(shown)]]
        )
    n = max(len(indices), 1)
    return {
        "eval/acc": sum(r.correct for r in results) / n,
        "eval/reward": sum(r.reward for r in results) / n,
        "eval/format_rate": sum(has_think_answer_format(text) for text in texts) / n,
        "eval/len_mean": sum(g.length for g in generations) / n,
        "eval/max_new_tokens": float(max_new_tokens),
    }
