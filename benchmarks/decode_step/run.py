"""The per-token cost of the HF rollout's decode loop, before and after the cheaper sampling noise, in one process.

Usage: python benchmarks/decode_step/run.py [--repeats 8] [--compile] [--out F]

1. Noise: `Tensor.exponential_` (the former sampler) against `exponential_like` (inverse uniform draws, the current
   one) at the tiny model's vocabulary and at Qwen2.5-VL's (151,936), for 16 and 128 rows: median microseconds per
   draw, and `sample_next` as a whole.
2. Decode: the packaged tiny model sampling 2 prompts x 8 responses x 128 tokens (end of sequence ignored), with the
   former and the current noise alternating `--repeats` times: median ms per decoded token, and their ratio.
3. Threads: the same decode loop at 1 and 2 torch threads, alternating `--repeats` times.
4. With --compile: `torch.compile(dynamic=True)` of the decode step, its first call and its ms per token; and one
   step compiled for a fixed cache length (`dynamic=False`) against the same step eager.

One thread (`torch.set_num_threads(1)`) outside part 3; ratios are measured in one run, so a busy neighbour costs
both sides alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import torch

import rethinker.rollout.sampling as sampling
from rethinker.data.synthetic import make_synthetic
from rethinker.models.loading import load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.prompt_bank import PromptBank
from rethinker.rollout import hf
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.rollout.kv_cache import RolloutCache

HERE = Path(__file__).resolve().parent
NOISE_SHAPES = ((16, 307), (16, 151_936), (128, 151_936))
NEW_TOKENS = 128


def former_noise(tensor: torch.Tensor) -> torch.Tensor:
    """The sampler's noise before: `Tensor.exponential_`."""
    return torch.empty_like(tensor).exponential_()


def median_us(call: Callable[[torch.Tensor], object], argument: torch.Tensor, repeats: int) -> float:
    """Median microseconds of `call(argument)` after one warm-up call."""
    call(argument)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def noise_rows() -> list[dict]:
    """Former vs current noise, and the whole `sample_next`, per (rows, vocab)."""
    params = SamplingParams(max_new_tokens=1, temperature=1.0)
    rows = []
    for batch, vocab in NOISE_SHAPES:
        logits = torch.randn(batch, vocab)
        repeats = 400 if vocab < 10_000 else 20
        former = median_us(former_noise, logits, repeats)
        current = median_us(sampling.exponential_like, logits, repeats)
        whole = median_us(lambda scores: sampling.sample_next(scores, params, None), logits, repeats)
        rows.append(
            {"rows": batch, "vocab": vocab, "former_us": former, "current_us": current, "sample_next_us": whole}
        )
    return rows


def decode_engine() -> tuple[HFRolloutEngine, list]:
    """The packaged tiny model's engine (never stopping early) and two held-out prompts."""
    path = resolve_model_path("tiny")
    model = load_model(path).eval()
    processor = load_processor(path)
    bank = PromptBank(processor, make_synthetic(2, 0, "eval", ("count",)), "default", None, 512)
    engine = HFRolloutEngine.for_processor(model, processor, 64)
    engine.eos_id = -1
    return engine, [bank.get(i) for i in range(len(bank))]


def ms_per_token(engine: HFRolloutEngine, prompts: list, calls: int = 5) -> float:
    """Mean ms per decoded token over `calls` rollouts of 8 responses x NEW_TOKENS per prompt."""
    params = SamplingParams(n=8, max_new_tokens=NEW_TOKENS, temperature=1.0)
    start = time.perf_counter()
    for _ in range(calls):
        engine.generate(prompts, params)
    return (time.perf_counter() - start) / calls / NEW_TOKENS * 1e3


def decode_ab(repeats: int) -> dict:
    """Former and current noise alternating in one process: median ms per token of each, and former / current."""
    engine, prompts = decode_engine()
    current = sampling.exponential_like
    ms_per_token(engine, prompts, 2)
    times: dict[str, list[float]] = {"former": [], "current": []}
    try:
        for _ in range(repeats):
            for name, noise in (("former", former_noise), ("current", current)):
                sampling.exponential_like = noise
                times[name].append(ms_per_token(engine, prompts))
    finally:
        sampling.exponential_like = current
    former_ms, current_ms = statistics.median(times["former"]), statistics.median(times["current"])
    return {"former_ms": former_ms, "current_ms": current_ms, "ratio": former_ms / current_ms, "runs": times}


def thread_ab(repeats: int) -> dict:
    """The decode loop at 1 and 2 torch threads alternating in one process: median ms per token of each."""
    engine, prompts = decode_engine()
    ms_per_token(engine, prompts, 2)
    times: dict[int, list[float]] = {1: [], 2: []}
    try:
        for _ in range(repeats):
            for threads in times:
                torch.set_num_threads(threads)
                times[threads].append(ms_per_token(engine, prompts))
    finally:
        torch.set_num_threads(1)
    return {f"{threads}_threads_ms": statistics.median(runs) for threads, runs in times.items()}


def compiled_decode() -> dict:
    """`torch.compile(dynamic=True)` of the decode step: the first rollout's seconds and the steady ms per token."""
    engine, prompts = decode_engine()
    eager = ms_per_token(engine, prompts)
    plain_decoder_for = hf.decoder_for

    def compiled_decoder_for(model: torch.nn.Module):
        decoder = plain_decoder_for(model)
        decoder.step = torch.compile(decoder.step, dynamic=True)
        return decoder

    hf.decoder_for = compiled_decoder_for
    try:
        start = time.perf_counter()
        ms_per_token(engine, prompts, 1)
        first_s = time.perf_counter() - start
        compiled = ms_per_token(engine, prompts)
    finally:
        hf.decoder_for = plain_decoder_for
    return {"eager_ms": eager, "compiled_ms": compiled, "first_call_s": first_s}


def static_step(repeats: int = 300) -> dict:
    """One decode step at a fixed cache length, eager and `torch.compile(dynamic=False)`: median us per step, and the
    compile time. A whole rollout would need a static-shape loop (attention over the full preallocated cache) to use
    it."""
    engine, prompts = decode_engine()
    with torch.no_grad():
        logits, prefill, _, next_positions = engine._prefill(prompts)
        cache = RolloutCache.from_prefill(prefill, 8, 16)
        decoder = hf.decoder_for(engine.model)
        tokens = torch.zeros(logits.shape[0] * 8, dtype=torch.long)
        positions = next_positions.repeat_interleave(8)

        def rewound(step: Callable) -> Callable[[torch.Tensor], None]:
            """`step` at the same cache length every call: each call takes back the position it wrote."""

            def call(step_tokens: torch.Tensor) -> None:
                step(step_tokens, positions, None, cache)
                cache.length -= 1

            return call

        compiled = torch.compile(decoder.step, dynamic=False)
        start = time.perf_counter()
        rewound(compiled)(tokens)
        compile_s = time.perf_counter() - start
        eager_us = median_us(rewound(decoder.step), tokens, repeats)
        compiled_us = median_us(rewound(compiled), tokens, repeats)
    return {"eager_us": eager_us, "compiled_us": compiled_us, "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=8, help="alternations of the decode A/B")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile'd decode step")
    parser.add_argument("--out", type=Path, default=HERE / "results" / f"{date.today().isoformat()}.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    result = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__}
    result["noise"] = noise_rows()
    for row in result["noise"]:
        print(
            f"rows {row['rows']:>3} vocab {row['vocab']:>6}: exponential_ {row['former_us']:,.0f} us, inverse "
            f"uniform {row['current_us']:,.0f} us ({row['former_us'] / row['current_us']:.1f}x); "
            f"sample_next {row['sample_next_us']:,.0f} us"
        )
    result["decode"] = decode_ab(args.repeats)
    decode = result["decode"]
    print(
        f"tiny decode, 16 rows: {decode['former_ms']:.3f} ms/token before, {decode['current_ms']:.3f} after "
        f"({decode['ratio']:.2f}x)"
    )
    result["threads"] = thread_ab(args.repeats)
    print(
        f"tiny decode, 16 rows: {result['threads']['1_threads_ms']:.3f} ms/token with 1 thread, "
        f"{result['threads']['2_threads_ms']:.3f} with 2"
    )
    if args.compile:
        result["compile"] = compiled_decode()
        print(
            f"torch.compile(dynamic=True) decode step: first rollout {result['compile']['first_call_s']:.1f} s, then "
            f"{result['compile']['compiled_ms']:.3f} ms/token (eager {result['compile']['eager_ms']:.3f})"
        )
        result["static_step"] = static_step()
        step = result["static_step"]
        print(
            f"torch.compile(dynamic=False), one step at a fixed length: {step['compiled_us']:.0f} us against eager "
            f"{step['eager_us']:.0f} us ({step['eager_us'] / step['compiled_us']:.2f}x), compiled in "
            f"{step['compile_s']:.1f} s"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
