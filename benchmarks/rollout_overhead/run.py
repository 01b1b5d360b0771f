"""Rollout overhead: the HF engine's tokens per second against a bare `model.generate` on the same batch and settings.

Both sample `--group` responses for each of `--prompts` prompts of the tiny model with images, EOS suppressed so every
response is full length, alternating A B A B in one process; the median of `--repeats` timings per side is reported
(wall and CPU seconds), with the engine's share of generate's throughput.
Usage: OMP_NUM_THREADS=1 python benchmarks/rollout_overhead/run.py [--tokens 32 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import GenerationConfig

from rethinker.config import RLConfig, load_config
from rethinker.models.prompt_bank import PromptBank
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import collate_prompts
from rethinker.train.datasets import build_datasets
from rethinker.train.policy import load_policy


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(RLConfig, "tiny", ["data.synthetic.train_size=64"])
    policy = load_policy(config)
    model, engine = policy.model.eval(), policy.engine
    engine.blocked_ids.append(engine.eos_id)
    train, _, _ = build_datasets(config.data, config.seed)
    bank = PromptBank(policy.processor, train, config.prompt.template, config.prompt.system, 512)
    prompts = [bank.get(i) for i in range(args.prompts)]
    flat = [p for p in prompts for _ in range(args.group)]
    batch = collate_prompts(flat, engine.pad_id, model.config.image_token_id)
    rows: dict[int, dict[str, float]] = {}
    for tokens in args.tokens:
        params = SamplingParams(max_new_tokens=tokens, n=args.group)
        generation = GenerationConfig(
            do_sample=True, max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=engine.pad_id, top_k=0
        )
        sides = {
            "engine": lambda params=params: engine.generate(prompts, params),
            "generate": lambda generation=generation: model.generate(**batch, generation_config=generation),
        }
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        with torch.no_grad():
            for side in sides.values():
                side()
            for _ in range(args.repeats):
                for name, side in sides.items():
                    times[name].append(timed(side))
        generated = tokens * len(flat)
        row = {}
        for name, values in times.items():
            row[f"{name}_wall_s"] = statistics.median(v[0] for v in values)
            row[f"{name}_cpu_s"] = statistics.median(v[1] for v in values)
            row[f"{name}_tokens_per_s"] = generated / row[f"{name}_wall_s"]
        row["engine_share_of_generate"] = row["engine_tokens_per_s"] / row["generate_tokens_per_s"]
        row["cpu_ratio_generate_over_engine"] = row["generate_cpu_s"] / row["engine_cpu_s"]
        rows[tokens] = row
        print(
            f"{tokens} new tokens x {len(flat)} rows: engine {row['engine_wall_s']:.3f} s"
            f" ({row['engine_cpu_s']:.3f} CPU s), generate {row['generate_wall_s']:.3f} s"
            f" ({row['generate_cpu_s']:.3f} CPU s): engine/generate throughput {row['engine_share_of_generate']:.2f}x,"
            f" CPU time generate/engine {row['cpu_ratio_generate_over_engine']:.2f}x",
            flush=True,
        )
    started = datetime.datetime.now(datetime.UTC)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.strftime('%Y-%m-%d-%H%M')}.json"
    record = {"date": started.isoformat(timespec="seconds"), "machine": platform.platform(), "settings": vars(args)}
    path.write_text(json.dumps(record | {"settings": {**vars(args), "out": str(args.out)}, "results": rows}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
