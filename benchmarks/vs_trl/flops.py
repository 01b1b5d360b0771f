"""Model FLOPs of one GRPO step as a perfect implementation would do it: the floor the measured step is compared with.

Counted from the checkpoint's config: every matmul (2 FLOPs per multiply-add) and the attention score and value
products; norms, activations and the optimizer are left out (they are a few percent of the matmuls at these widths).
The work counted is the least the step needs: each prompt (its images through the vision tower, its tokens through the
text decoder) once per group for sampling, G x T decoded tokens, and one forward and backward (2x the forward) of the
update, again with each prompt once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BACKWARD_OVER_FORWARD = 2.0
"""A backward pass costs about twice its forward: gradients for both the inputs and the weights of every matmul."""


@dataclass(frozen=True)
class TextDims:
    """The text decoder's sizes."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int

    def matmul_per_token(self) -> int:
        """FLOPs of the weight matmuls of one token through every layer (q, k, v, o, gate, up, down)."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return 2 * self.layers * (attention + 3 * self.hidden * self.intermediate)

    def attention_per_token(self, context: int) -> int:
        """FLOPs of one query token's scores and weighted values over `context` keys, every layer."""
        return 2 * 2 * self.layers * self.heads * self.head_dim * context

    def logits_per_token(self) -> int:
        """FLOPs of the output projection of one position."""
        return 2 * self.hidden * self.vocab


@dataclass(frozen=True)
class VisionDims:
    """The vision tower's sizes (Qwen2.5-VL layout: gated MLP, windowed attention, a patch merger)."""

    hidden: int
    layers: int
    intermediate: int
    out_hidden: int
    patch_size: int
    temporal_patch_size: int
    merge_size: int
    window_patches: int
    full_attention_layers: int

    def image_flops(self, image_tokens: int) -> int:
        """Forward FLOPs of one image that becomes `image_tokens` merged tokens."""
        patches = image_tokens * self.merge_size**2
        embed = 2 * patches * 3 * self.temporal_patch_size * self.patch_size**2 * self.hidden
        per_patch = 2 * (4 * self.hidden**2 + 3 * self.hidden * self.intermediate)
        window = min(self.window_patches, patches)
        windowed = self.layers - self.full_attention_layers
        attention = 4 * self.hidden * patches * (windowed * window + self.full_attention_layers * patches)
        merged = self.hidden * self.merge_size**2
        merger = 2 * image_tokens * (merged * merged + merged * self.out_hidden)
        return embed + self.layers * patches * per_patch + attention + merger


def dims_from_config(config: dict[str, Any]) -> tuple[TextDims, VisionDims]:
    """Text and vision sizes of a Qwen2.5-VL `config.json`."""
    text, vision = config["text_config"], config["vision_config"]
    heads = int(text["num_attention_heads"])
    text_dims = TextDims(
        hidden=int(text["hidden_size"]),
        layers=int(text["num_hidden_layers"]),
        heads=heads,
        kv_heads=int(text["num_key_value_heads"]),
        head_dim=int(text.get("head_dim") or text["hidden_size"] // heads),
        intermediate=int(text["intermediate_size"]),
        vocab=int(text["vocab_size"]),
    )
    window_side = int(vision["window_size"]) // int(vision["patch_size"])
    vision_dims = VisionDims(
        hidden=int(vision["hidden_size"]),
        layers=int(vision["depth"]),
        intermediate=int(vision["intermediate_size"]),
        out_hidden=int(vision["out_hidden_size"]),
        patch_size=int(vision["patch_size"]),
        temporal_patch_size=int(vision.get("temporal_patch_size", 2)),
        merge_size=int(vision["spatial_merge_size"]),
        window_patches=window_side * window_side,
        full_attention_layers=len(vision.get("fullatt_block_indexes") or []),
    )
    return text_dims, vision_dims


@dataclass(frozen=True)
class StepShape:
    """The work of one step: prompts, their length (image tokens included), group size, new tokens per response."""

    prompts: int
    prompt_tokens: int
    image_tokens: int
    group_size: int
    new_tokens: int


def prompt_forward(text: TextDims, vision: VisionDims, shape: StepShape) -> float:
    """Forward FLOPs of every prompt once: its image through the vision tower, its tokens through the decoder."""
    length = shape.prompt_tokens
    causal_context = length * (length + 1) // 2
    per_prompt = (
        vision.image_flops(shape.image_tokens)
        + length * text.matmul_per_token()
        + text.attention_per_token(1) * causal_context
    )
    return float(shape.prompts * per_prompt)


def response_forward(text: TextDims, shape: StepShape, tokens: int) -> float:
    """Forward FLOPs of `tokens` response positions per row after the prompt, every row, logits included."""
    rows = shape.prompts * shape.group_size
    context = tokens * shape.prompt_tokens + tokens * (tokens + 1) // 2
    per_row = tokens * (text.matmul_per_token() + text.logits_per_token()) + text.attention_per_token(1) * context
    return float(rows * per_row)


def step_flops(text: TextDims, vision: VisionDims, shape: StepShape) -> dict[str, float]:
    """FLOPs of the step's parts: `prefill`, `decode`, `update` (forward + backward), and their `total`."""
    prompts = prompt_forward(text, vision, shape)
    prefill = prompts + shape.prompts * text.logits_per_token()
    decode = response_forward(text, shape, max(shape.new_tokens - 1, 0))
    update = (1 + BACKWARD_OVER_FORWARD) * (prompts + response_forward(text, shape, shape.new_tokens))
    return {"prefill": prefill, "decode": decode, "update": update, "total": prefill + decode + update}


def floor_seconds(flops: dict[str, float], gflops: float, decode_token_s: float, new_tokens: int) -> dict[str, float]:
    """The step's floor in seconds: FLOPs over measured matmul throughput, decode at least `new_tokens` bare steps.

    `decode_token_s` is a bare forward of one token for all rows with a KV cache; when `new_tokens - 1` of them take
    longer than decode's FLOPs at full throughput, decode is bound per token (operation overhead, and reading every
    weight and the cache once per token at a few rows) rather than by FLOPs, and those bare steps are its floor.
    """
    if gflops <= 0 or not math.isfinite(gflops):
        raise ValueError(f"matmul throughput must be a positive number of GFLOP/s, got {gflops}")
    rate = gflops * 1e9
    decode_flop_s = flops["decode"] / rate
    decode_bare_s = max(new_tokens - 1, 0) * decode_token_s
    decode_s = max(decode_flop_s, decode_bare_s)
    prefill_s, update_s = flops["prefill"] / rate, flops["update"] / rate
    return {
        "prefill_s": prefill_s,
        "decode_s": decode_s,
        "decode_flop_s": decode_flop_s,
        "decode_bare_s": decode_bare_s,
        "decode_per_token_bound": float(decode_bare_s > decode_flop_s),
        "update_s": update_s,
        "total_s": prefill_s + decode_s + update_s,
    }
