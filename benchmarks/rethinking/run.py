"""Stage 2 with and without forced rethinking from the same start: held-out accuracy, spontaneous rethinking, and the
gain from test-time forced rethinking ("\\n\\nWait" appended after the answer, then continued)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from rethinker.algo.rethinking import test_time_rethink_summary
from rethinker.data.synthetic import make_synthetic
from rethinker.models.loading import load_model, load_processor
from rethinker.models.prompt_bank import PromptBank
from rethinker.rewards.extract import before_first_wait, count_waits, extract_answer
from rethinker.rewards.registry import get_reward_fn, score_batch
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.rollout.triggers import BARE_WAIT

VARIANTS = {"forced": "rethink.enabled=true", "plain": "rethink.enabled=false"}


def train(name: str, out: Path, seed: int, overrides: list[str]) -> Path:
    """Train one stage-2 variant; returns its final checkpoint."""
    run_dir = out / name
    command = [sys.executable, "-m", "rethinker.cli", "train", "vl-rethinker-stage2-tiny", f"run_dir={run_dir}"]
    command += [f"seed={seed}", VARIANTS[name], "logging.progress=false", "checkpoint.every=0", *overrides]
    subprocess.run(command, check=True)
    return run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()


def integer_answer(text: str) -> int | None:
    """The response's final answer as an integer (a count), or None when it is not one."""
    answer = extract_answer(text).answer
    return int(answer) if answer is not None and re.fullmatch(r"-?\d{1,6}", answer.strip()) else None


def flip_shifts(
    first_texts: list[str], final_texts: list[str], first_right: list[bool], final_right: list[bool]
) -> dict[str, dict[str, int]]:
    """Per flip direction, how many flips moved the integer answer by each amount (final minus first, e.g. '+1')."""
    shifts: dict[str, dict[str, int]] = {"wrong_to_right": {}, "right_to_wrong": {}}
    for first, final, was, now in zip(first_texts, final_texts, first_right, final_right, strict=True):
        if was == now:
            continue
        before, after = integer_answer(first), integer_answer(final)
        shift = f"{after - before:+d}" if before is not None and after is not None else "other"
        counts = shifts["wrong_to_right" if now else "right_to_wrong"]
        counts[shift] = counts.get(shift, 0) + 1
    return shifts


def probe(checkpoint: Path, seed: int, size: int, max_new_tokens: int) -> dict:
    """Greedy held-out accuracy, spontaneous rethinking rate and the shares of items its own rethinks turn wrong->right
    and right->wrong (the answer before the first "Wait" against the final one), and test-time forced rethinking with
    its flips counted by how far they moved the answer."""
    model, processor = load_model(checkpoint), load_processor(checkpoint)
    examples = make_synthetic(size, seed, "eval", ("count",))
    bank = PromptBank(processor, examples, "rethink", None, 1024)
    engine = HFRolloutEngine.for_processor(model, processor, size)
    greedy = SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0)
    prompts = [bank.get(i) for i in range(size)]
    first = [group[0] for group in engine.generate(prompts, greedy)]
    trigger = torch.tensor(processor.tokenizer.encode(BARE_WAIT, add_special_tokens=False))
    kept = [g.token_ids[:-1] if g.ended_with_eos else g.token_ids for g in first]
    continued_prompts = [
        replace(p, input_ids=torch.cat([p.input_ids, ids, trigger])) for p, ids in zip(prompts, kept, strict=True)
    ]
    second = [group[0] for group in engine.generate(continued_prompts, greedy)]
    before_texts = [processor.decode(g.token_ids) for g in first]
    after_texts = [
        processor.decode(torch.cat([ids, trigger, g.token_ids])) for ids, g in zip(kept, second, strict=True)
    ]
    reward = get_reward_fn("accuracy")
    with Verifier() as verifier:
        before = [r.correct for r in score_batch(reward, before_texts, examples, verifier)]
        after = [r.correct for r in score_batch(reward, after_texts, examples, verifier)]
        rethought = [i for i, text in enumerate(before_texts) if count_waits(text) > 0]
        first_texts = [before_first_wait(before_texts[i]) for i in rethought]
        first = [r.correct for r in score_batch(reward, first_texts, [examples[i] for i in rethought], verifier)]
    summary: dict = test_time_rethink_summary(before, after)
    summary["forced_flip_shifts"] = flip_shifts(before_texts, after_texts, before, after)
    summary["spontaneous_rethink_frac"] = len(rethought) / size
    own = test_time_rethink_summary(first, [before[i] for i in rethought])
    summary["spontaneous_wrong_to_right"] = own["wrong_to_right"] * len(rethought) / size
    summary["spontaneous_right_to_wrong"] = own["right_to_wrong"] * len(rethought) / size
    return summary


def sampled_rethinking(checkpoint: Path, seed: int, size: int, max_new_tokens: int, samples: int) -> dict[str, float]:
    """At temperature 1, `samples` responses per held-out item: the share that re-check themselves unforced, and the
    shares of all responses whose own rethink turned a wrong first answer right and a right one wrong."""
    model, processor = load_model(checkpoint), load_processor(checkpoint)
    examples = make_synthetic(size, seed, "eval", ("count",))
    bank = PromptBank(processor, examples, "rethink", None, 1024)
    engine = HFRolloutEngine.for_processor(model, processor, size * samples)
    torch.manual_seed(seed)
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=1.0, n=samples)
    groups = engine.generate([bank.get(i) for i in range(size)], params)
    texts = [processor.decode(g.token_ids) for group in groups for g in group]
    repeated = [example for example in examples for _ in range(samples)]
    rethought = [i for i, text in enumerate(texts) if count_waits(text) > 0]
    reward = get_reward_fn("accuracy")
    with Verifier() as verifier:
        final = [r.correct for r in score_batch(reward, texts, repeated, verifier)]
        first_texts = [before_first_wait(texts[i]) for i in rethought]
        first = [r.correct for r in score_batch(reward, first_texts, [repeated[i] for i in rethought], verifier)]
    own = test_time_rethink_summary(first, [final[i] for i in rethought])
    return {
        "acc": sum(final) / len(texts),
        "spontaneous_rethink_frac": len(rethought) / len(texts),
        "spontaneous_wrong_to_right": own["wrong_to_right"] * len(rethought) / len(texts),
        "spontaneous_right_to_wrong": own["right_to_wrong"] * len(rethought) / len(texts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/rethinking"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe-size", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("overrides", nargs="*", help="key=value overrides for both runs")
    args = parser.parse_args()
    results = {}
    for name in VARIANTS:
        checkpoint = train(name, args.out, args.seed, args.overrides)
        results[name] = probe(checkpoint, args.seed, args.probe_size, args.max_new_tokens)
        print(name, json.dumps(results[name]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(results, indent=2))
    print(
        "| stage 2 | held-out acc | after test-time rethinking | wrong->right | right->wrong | spontaneous rethinking |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['acc_before']:.3f} | {r['acc_after']:.3f} | {r['wrong_to_right']:.3f} |"
            f" {r['right_to_wrong']:.3f} | {r['spontaneous_rethink_frac']:.3f} |"
        )


if __name__ == "__main__":
    main()
