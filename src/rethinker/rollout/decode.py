"""One decoding step of a Qwen-VL text decoder, written as plain tensor operations over the model's own weights.

A decoding step of a small model is dominated by per-operation overhead, not arithmetic: the module-by-module path
(module calls, a rotary recomposition per layer, keys/values repeated for grouped-query attention) costs several
times the operations below. The step reads the weights in place (nothing is copied, so it always decodes the current
policy) and reproduces the layers' forward exactly; `tests/rollout/test_decode.py` checks it against the model's
forward for every supported family. A new token has the same position on all three mRoPE axes, so its rotary
embedding is the plain 1D one whatever the section layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from rethinker.rollout.kv_cache import RolloutCache


@dataclass(frozen=True)
class DecoderShape:
    """Head counts and sizes of the text decoder's attention."""

    heads: int
    kv_heads: int
    head_dim: int


FUSE_MAX_BYTES = 64 * 1024 * 1024
"""Fused projection copies are made only below this size: small models pay per matmul call, large ones per FLOP."""


@dataclass(frozen=True)
class FusedProjections:
    """A layer's q|k|v and gate|up projections concatenated, so each is one matmul per step."""

    qkv_weight: torch.Tensor
    qkv_bias: torch.Tensor | None
    gate_up_weight: torch.Tensor

    @classmethod
    def of(cls, layer: nn.Module) -> FusedProjections:
        """Copies of the layer's current projection weights, concatenated."""
        attention, mlp = layer.self_attn, layer.mlp
        projections = (attention.q_proj, attention.k_proj, attention.v_proj)
        bias = None
        if any(p.bias is not None for p in projections):
            bias = torch.cat(
                [p.bias if p.bias is not None else p.weight.new_zeros(p.out_features) for p in projections]
            )
        weight = torch.cat([p.weight for p in projections])
        return cls(weight, bias, torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]))


def projection_bytes(layers: Sequence[nn.Module]) -> int:
    """Bytes of the q/k/v and gate/up weights of `layers` (what fusing them copies)."""
    names = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj")
    return sum(
        param.numel() * param.element_size()
        for layer in layers
        for name in names
        for param in layer.get_submodule(name).parameters()
    )


def rms_norm(hidden: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """The Qwen RMSNorm: normalised in float32, scaled by the weight in the input's dtype (one fused op in float32)."""
    dtype = hidden.dtype
    if dtype == torch.float32 and norm.weight.dtype == torch.float32:
        return F.rms_norm(hidden, norm.weight.shape, norm.weight, norm.variance_epsilon)
    hidden = hidden.float()
    hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * hidden.to(dtype)


def rotate(states: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in the half-split layout, x * cos + rotate_half(x) * sin, with `signed_sin` = [-sin | sin].

    rotate_half(x) = [-x2 | x1] is [x2 | x1] (a roll by half) times [-1 | 1], folded into the sine table.
    """
    return torch.addcmul(states * cos, states.roll(states.shape[-1] // 2, dims=-1), signed_sin)


def add_projection(residual: torch.Tensor, inputs: torch.Tensor, projection: nn.Linear) -> torch.Tensor:
    """residual + projection(inputs) for [rows, 1, features] tensors, as one fused op when the layer has no bias."""
    if projection.bias is not None:
        return residual + projection(inputs)
    rows = residual.shape[0]
    fused = torch.addmm(residual.reshape(rows, -1), inputs.reshape(rows, -1), projection.weight.t())
    return fused.view_as(residual)


def unsupported_reason(model: PreTrainedModel) -> str | None:
    """Why the plain-tensor step cannot decode this model exactly (None when it can)."""
    text = getattr(getattr(model, "model", None), "language_model", None)
    if text is None:
        return f"{type(model).__name__} has no Qwen-VL text decoder"
    config = text.config
    if getattr(config, "hidden_act", None) != "silu":
        return f"activation {getattr(config, 'hidden_act', None)!r} is not silu"
    if getattr(config, "use_sliding_window", False):
        return "sliding-window attention"
    if (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default") != "default":
        return "rope scaling"
    if getattr(text.rotary_emb, "attention_scaling", 1.0) != 1.0:
        return "rotary attention scaling"
    return None


class PlainDecoder:
    """Decodes one token per row with the model's text-decoder weights (Qwen2-VL, Qwen2.5-VL, Qwen3-VL layouts).

    Built per rollout batch; for models under `fuse_max_bytes` it fuses copies of the q/k/v and gate/up weights taken
    at that moment (the policy does not change during a rollout).
    """

    def __init__(self, model: PreTrainedModel, fuse_max_bytes: int = FUSE_MAX_BYTES) -> None:
        reason = unsupported_reason(model)
        if reason is not None:
            raise TypeError(f"plain decoding does not support this model: {reason}")
        text = model.model.language_model
        attention = text.layers[0].self_attn
        self.embed = text.embed_tokens
        self.layers: Sequence[nn.Module] = text.layers
        self.norm = text.norm
        self.lm_head = model.lm_head
        self.inv_freq = text.rotary_emb.inv_freq
        self.shape = DecoderShape(
            attention.config.num_attention_heads, attention.config.num_key_value_heads, attention.head_dim
        )
        self.scaling = attention.scaling
        self.fused: list[FusedProjections] | None = None
        if projection_bytes(self.layers) <= fuse_max_bytes:
            with torch.no_grad():
                self.fused = [FusedProjections.of(layer) for layer in self.layers]

    def _qkv(self, layer: nn.Module, index: int, hidden: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fused is None:
            attention = layer.self_attn
            return attention.q_proj(hidden), attention.k_proj(hidden), attention.v_proj(hidden)
        shape = self.shape
        sizes = (shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim, shape.kv_heads * shape.head_dim)
        fused = self.fused[index]
        return F.linear(hidden, fused.qkv_weight, fused.qkv_bias).split(sizes, dim=-1)

    def _mlp(self, layer: nn.Module, index: int, hidden: torch.Tensor) -> torch.Tensor:
        """hidden + the layer's MLP of its normalised hidden state."""
        mlp, normed = layer.mlp, rms_norm(hidden, layer.post_attention_layernorm)
        if self.fused is None:
            gate, up = mlp.gate_proj(normed), mlp.up_proj(normed)
        else:
            gate, up = F.linear(normed, self.fused[index].gate_up_weight).chunk(2, dim=-1)
        return add_projection(hidden, F.silu(gate) * up, mlp.down_proj)

    def _attention(self, layer: nn.Module, hidden: torch.Tensor, rotary: tuple, mask, cache, index: int):
        """hidden + the layer's self-attention of its normalised hidden state over the cache."""
        attention, shape, rows = layer.self_attn, self.shape, hidden.shape[0]
        query, key, value = self._qkv(layer, index, rms_norm(hidden, layer.input_layernorm))
        query = query.reshape(rows, 1, shape.heads, shape.head_dim)
        key = key.reshape(rows, 1, shape.kv_heads, shape.head_dim)
        value = value.reshape(rows, 1, shape.kv_heads, shape.head_dim)
        if hasattr(attention, "q_norm"):
            query, key = rms_norm(query, attention.q_norm), rms_norm(key, attention.k_norm)
        cos, sin = rotary
        query, key = (
            rotate(torch.cat((query, key), dim=2), cos, sin).transpose(1, 2).split((shape.heads, shape.kv_heads), dim=1)
        )
        keys, values = cache.update(key, value.transpose(1, 2), index)
        out = F.scaled_dot_product_attention(
            query, keys, values, attn_mask=mask, scale=self.scaling, enable_gqa=shape.heads != shape.kv_heads
        )
        return add_projection(hidden, out.transpose(1, 2).reshape(rows, 1, -1), attention.o_proj)

    def step(
        self, tokens: torch.Tensor, positions: torch.Tensor, visible: torch.Tensor | None, cache: RolloutCache
    ) -> torch.Tensor:
        """Logits [rows, vocab] after one new token per row at `positions`; `visible` masks padded slots (or None)."""
        hidden = self.embed(tokens[:, None])
        angles = positions[:, None].float() * self.inv_freq.to(hidden.device)
        cos, sin = angles.cos(), angles.sin()
        cos = torch.cat((cos, cos), dim=-1)[:, None, None, :].to(hidden.dtype)
        rotary = (cos, torch.cat((-sin, sin), dim=-1)[:, None, None, :].to(hidden.dtype))
        mask = None if visible is None else visible[:, None, None, :]
        for index, layer in enumerate(self.layers):
            hidden = self._mlp(layer, index, self._attention(layer, hidden, rotary, mask, cache, index))
        cache.advance()
        return self.lm_head(rms_norm(hidden, self.norm))[:, -1]


class ModuleDecoder:
    """Decodes one token per row through the text decoder's own layer modules: any Qwen-VL layout, at module speed."""

    def __init__(self, model: PreTrainedModel) -> None:
        text = model.model.language_model
        self.embed, self.rotary, self.layers, self.norm = text.embed_tokens, text.rotary_emb, text.layers, text.norm
        self.lm_head = model.lm_head

    def step(
        self, tokens: torch.Tensor, positions: torch.Tensor, visible: torch.Tensor | None, cache: RolloutCache
    ) -> torch.Tensor:
        """Logits [rows, vocab] after one new token per row at `positions`; `visible` masks padded slots (or None)."""
        hidden = self.embed(tokens[:, None])
        position_ids = positions.view(1, -1, 1).expand(3, -1, -1)
        rotary = self.rotary(hidden, position_ids)
        mask = None if visible is None else visible[:, None, None, :]
        for layer in self.layers:
            hidden = layer(
                hidden,
                attention_mask=mask,
                position_ids=position_ids,
                past_key_values=cache,
                position_embeddings=rotary,
            )
        cache.advance()
        return self.lm_head(self.norm(hidden))[:, -1]


def decoder_for(model: PreTrainedModel) -> PlainDecoder | ModuleDecoder:
    """The plain-tensor decoder when it reproduces the model exactly, else the module-by-module one."""
    if getattr(getattr(model, "model", None), "language_model", None) is None:
        raise TypeError(f"{type(model).__name__} has no Qwen-VL text decoder (model.model.language_model)")
    return PlainDecoder(model) if unsupported_reason(model) is None else ModuleDecoder(model)
