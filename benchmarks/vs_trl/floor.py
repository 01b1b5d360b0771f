"""Measure what the floor needs on this machine: dense matmul throughput, and a bare one-token decode step.

Usage (the driver calls it): python floor.py REQUEST_JSON RESULT_PATH
The request names the thread count and, per model, the text sizes and the (rows, context) decode shapes to time.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from flops import TextDims

MATMUL_SIDES = (512, 1024, 2048)


def matmul_gflops(seconds_per_side: float = 1.5, sides: tuple[int, ...] = MATMUL_SIDES) -> float:
    """GFLOP/s of back-to-back float32 [side x side] @ [side x side] matmuls: the best burst over sides and repeats.

    The best, not the mean, so the floor it gives is the lowest this machine reached during the run.
    """
    bursts = []
    for side in sides:
        a, b = torch.randn(side, side), torch.randn(side, side)
        torch.matmul(a, b)
        for _ in range(5):
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds_per_side / 5:
                torch.matmul(a, b)
                calls += 1
            bursts.append(calls * 2 * side**3 / (time.perf_counter() - start) / 1e9)
    return max(bursts)


def bare_token_seconds(text: TextDims, rows: int, context: int, repeats: int = 8) -> float:
    """Median seconds of one token for `rows` sequences through random weights of the decoder's shapes.

    Per layer: one q|k|v matmul, attention over a `context`-long key/value cache (the query heads of a key/value head
    read it in one call, never a repeated copy), the output projection, one gate|up matmul and the down projection;
    then the output projection. No norms, rotary, sampling or cache writes: the least any implementation does per
    decoded token.
    """
    dim, kv = text.head_dim, text.kv_heads
    layers = [
        (
            torch.randn((text.heads + 2 * kv) * dim, text.hidden) * 0.02,
            torch.randn(text.hidden, text.heads * dim) * 0.02,
            torch.randn(2 * text.intermediate, text.hidden) * 0.02,
            torch.randn(text.hidden, text.intermediate) * 0.02,
            torch.randn(rows, kv, context, dim),
            torch.randn(rows, kv, context, dim),
        )
        for _ in range(text.layers)
    ]
    head = torch.randn(text.vocab, text.hidden) * 0.02
    hidden = torch.randn(rows, text.hidden)

    def one_token() -> torch.Tensor:
        state = hidden
        for qkv_w, out_w, gate_up_w, down_w, keys, values in layers:
            query = F.linear(state, qkv_w)[:, : text.heads * dim].view(rows, kv, text.heads // kv, dim)
            attended = F.scaled_dot_product_attention(query, keys, values)
            state = state + F.linear(attended.reshape(rows, -1), out_w)
            gate, up = F.linear(state, gate_up_w).chunk(2, dim=-1)
            state = state + F.linear(F.silu(gate) * up, down_w)
        return F.linear(state, head)

    times = []
    with torch.no_grad():
        one_token()
        for _ in range(repeats):
            start = time.perf_counter()
            one_token()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(request: dict) -> dict:
    """Matmul GFLOP/s and, per model and decode shape, the bare token time."""
    torch.set_num_threads(int(request["threads"]))
    result: dict = {"threads": torch.get_num_threads(), "matmul_gflops": matmul_gflops(), "decode_token_s": {}}
    for model, entry in request["models"].items():
        text = TextDims(**entry["text"])
        for rows, context in entry["shapes"]:
            result["decode_token_s"][f"{model}/{rows}/{context}"] = bare_token_seconds(text, rows, context)
    return result


def main(argv: list[str]) -> int:
    """Read the request, measure, write the result JSON."""
    request_json, result_path = argv
    Path(result_path).write_text(json.dumps(measure(json.loads(request_json)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
