"""Build tiny, real Qwen2-VL, Qwen2.5-VL and Qwen3-VL models offline: config, trained tokenizer, processor files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)

from rethinker.data.synthetic import synthetic_corpus
from rethinker.models.prompts import SYSTEM_PROMPTS, TEMPLATES

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_FAMILY = "qwen2_5_vl"


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model: small enough to train on two CPU cores in minutes."""

    vocab_size: int = 300
    text_hidden: int = 128
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate: int = 256
    vision_hidden: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    vision_intermediate: int = 128
    patch_size: int = 14
    merge_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 112 * 112
    max_positions: int = 2048


SCALED_SPECS: dict[str, TinySpec] = {
    "tiny": TinySpec(),
    "small": TinySpec(
        text_hidden=512,
        text_layers=6,
        text_heads=8,
        text_kv_heads=2,
        text_intermediate=1408,
        vision_hidden=256,
        vision_layers=4,
        vision_heads=4,
        vision_intermediate=1024,
        max_positions=4096,
    ),
    "base": TinySpec(
        text_hidden=768,
        text_layers=12,
        text_heads=12,
        text_kv_heads=2,
        text_intermediate=2048,
        vision_hidden=384,
        vision_layers=8,
        vision_heads=6,
        vision_intermediate=1536,
        max_positions=4096,
    ),
}
"""Qwen2.5-VL sizes for speed measurements, built offline like the tiny one: about 0.6M, 25M and 100M parameters.

Same layout as the real models (grouped-query attention, gated MLPs, windowed vision attention with a full-attention
last block), scaled down; the vocabulary stays the locally trained tokenizer's.
"""


def mrope_section(half_head_dim: int, interleaved: bool) -> list[int]:
    """How many rotary frequencies go to time, height and width (they sum to half the head dimension).

    Qwen2-VL and Qwen2.5-VL give time a quarter in one contiguous block (real: 16/24/24 of 64); Qwen3-VL interleaves
    t/h/w frequency by frequency, so height and width must fit in 3 * section entries (real: 24/20/20 of 64).
    """
    if interleaved:
        spatial = half_head_dim * 5 // 16
        return [half_head_dim - 2 * spatial, spatial, spatial]
    temporal = half_head_dim // 4
    height = (half_head_dim - temporal) // 2
    return [temporal, height, half_head_dim - temporal - height]


def qwen2_text_extras(spec: TinySpec) -> dict[str, Any]:
    """Text-config keys of Qwen2-VL and Qwen2.5-VL: contiguous mRoPE sections, no sliding window."""
    half_head = spec.text_hidden // spec.text_heads // 2
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section(half_head, False)}
    return {"max_window_layers": spec.text_layers, "rope_parameters": rope}


def qwen3_text_extras(spec: TinySpec) -> dict[str, Any]:
    """Text-config keys of Qwen3-VL: an explicit head_dim (its default is 128) and interleaved mRoPE."""
    head_dim = spec.text_hidden // spec.text_heads
    section = mrope_section(head_dim // 2, True)
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section, "mrope_interleaved": True}
    return {"head_dim": head_dim, "rope_parameters": rope}


def qwen2_vision(spec: TinySpec) -> dict[str, Any]:
    """Qwen2-VL's vision tower: LayerNorm blocks whose MLP width is a ratio of the embedding width."""
    return {
        "depth": spec.vision_layers,
        "embed_dim": spec.vision_hidden,
        "hidden_size": spec.text_hidden,
        "mlp_ratio": spec.vision_intermediate // spec.vision_hidden,
        "num_heads": spec.vision_heads,
        "patch_size": spec.patch_size,
        "spatial_merge_size": spec.merge_size,
    }


def qwen2_5_vision(spec: TinySpec) -> dict[str, Any]:
    """Qwen2.5-VL's vision tower: windowed attention with full attention in the last block."""
    return {
        "depth": spec.vision_layers,
        "hidden_size": spec.vision_hidden,
        "intermediate_size": spec.vision_intermediate,
        "num_heads": spec.vision_heads,
        "out_hidden_size": spec.text_hidden,
        "patch_size": spec.patch_size,
        "spatial_merge_size": spec.merge_size,
        "window_size": spec.patch_size * spec.merge_size * 4,
        "fullatt_block_indexes": [spec.vision_layers - 1],
    }


def qwen3_vision(spec: TinySpec) -> dict[str, Any]:
    """Qwen3-VL's vision tower: learned (interpolated) position grid, and the first block feeds DeepStack."""
    return {
        "depth": spec.vision_layers,
        "hidden_size": spec.vision_hidden,
        "intermediate_size": spec.vision_intermediate,
        "num_heads": spec.vision_heads,
        "out_hidden_size": spec.text_hidden,
        "patch_size": spec.patch_size,
        "spatial_merge_size": spec.merge_size,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    }


@dataclass(frozen=True)
class Family:
    """What differs between the Qwen-VL generations when building a tiny model and its processor files."""

    config_class: type[PreTrainedConfig]
    model_class: type[PreTrainedModel]
    processor_class: str
    video_processor_type: str
    spec: TinySpec
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    text_extras: Callable[[TinySpec], dict[str, Any]]
    vision_config: Callable[[TinySpec], dict[str, Any]]


FAMILIES: dict[str, Family] = {
    "qwen2_vl": Family(
        config_class=Qwen2VLConfig,
        model_class=Qwen2VLForConditionalGeneration,
        processor_class="Qwen2VLProcessor",
        video_processor_type="Qwen2VLVideoProcessor",
        spec=TinySpec(),
        image_mean=IMAGE_MEAN,
        image_std=IMAGE_STD,
        text_extras=qwen2_text_extras,
        vision_config=qwen2_vision,
    ),
    "qwen2_5_vl": Family(
        config_class=Qwen2_5_VLConfig,
        model_class=Qwen2_5_VLForConditionalGeneration,
        processor_class="Qwen2_5_VLProcessor",
        video_processor_type="Qwen2VLVideoProcessor",
        spec=TinySpec(),
        image_mean=IMAGE_MEAN,
        image_std=IMAGE_STD,
        text_extras=qwen2_text_extras,
        vision_config=qwen2_5_vision,
    ),
    "qwen3_vl": Family(
        config_class=Qwen3VLConfig,
        model_class=Qwen3VLForConditionalGeneration,
        processor_class="Qwen3VLProcessor",
        video_processor_type="Qwen3VLVideoProcessor",
        spec=replace(TinySpec(), patch_size=16, min_pixels=64 * 64, max_pixels=128 * 128),
        image_mean=(0.5, 0.5, 0.5),
        image_std=(0.5, 0.5, 0.5),
        text_extras=qwen3_text_extras,
        vision_config=qwen3_vision,
    ),
}
RANDOM_ALIASES = {
    "tiny-random": DEFAULT_FAMILY,
    "tiny-random-qwen2-vl": "qwen2_vl",
    "tiny-random-qwen2.5-vl": "qwen2_5_vl",
    "tiny-random-qwen3-vl": "qwen3_vl",
}
"""`model.path` names of the randomly initialised tiny models, by family."""


def family_of(name: str) -> Family:
    """The family registered under a model type; a clear error naming the supported ones otherwise."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; expected one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def chat_template() -> str:
    """The Qwen-style chat template (images in place as vision_start/image_pad/vision_end) shipped with the package."""
    return resources.files("rethinker.models").joinpath("chat_template.jinja").read_text()


def train_tokenizer(corpus: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `corpus` with Qwen's special tokens and chat template."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size + len(SPECIAL_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|im_end|>", "<|endoftext|>")],
        padding_side="left",
        model_max_length=2048,
    )
    tokenizer.chat_template = chat_template()
    return tokenizer


def model_config(spec: TinySpec, tokenizer: PreTrainedTokenizerFast, family: str = DEFAULT_FAMILY) -> PreTrainedConfig:
    """A config of the given family and sizes whose special-token ids match `tokenizer`."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    chosen = family_of(family)
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.text_hidden,
        "intermediate_size": spec.text_intermediate,
        "num_hidden_layers": spec.text_layers,
        "num_attention_heads": spec.text_heads,
        "num_key_value_heads": spec.text_kv_heads,
        "max_position_embeddings": spec.max_positions,
        **chosen.text_extras(spec),
        "tie_word_embeddings": True,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    return chosen.config_class(
        text_config=text_config,
        vision_config=chosen.vision_config(spec),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )


def image_processor_config(spec: TinySpec, family: str = DEFAULT_FAMILY) -> dict[str, Any]:
    """The `preprocessor_config.json` of the family's (Qwen2-VL) image processor with the tiny model's pixel bounds."""
    chosen = family_of(family)
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": chosen.processor_class,
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": list(chosen.image_mean),
        "image_std": list(chosen.image_std),
        "min_pixels": spec.min_pixels,
        "max_pixels": spec.max_pixels,
        "size": {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels},
        "patch_size": spec.patch_size,
        "temporal_patch_size": 2,
        "merge_size": spec.merge_size,
    }


def video_processor_config(spec: TinySpec, family: str = DEFAULT_FAMILY) -> dict[str, Any]:
    """The `video_preprocessor_config.json` that plain `AutoProcessor` needs for the full (torchvision) processor."""
    config = image_processor_config(spec, family)
    del config["image_processor_type"]
    return {**config, "video_processor_type": family_of(family).video_processor_type}


def save_processor_files(
    out_dir: Path, tokenizer: PreTrainedTokenizerFast, spec: TinySpec, family: str = DEFAULT_FAMILY
) -> None:
    """Write tokenizer, chat template and processor configs in the layout `AutoProcessor.from_pretrained` reads."""
    tokenizer.save_pretrained(out_dir)
    (out_dir / "chat_template.jinja").write_text(chat_template())
    (out_dir / "preprocessor_config.json").write_text(json.dumps(image_processor_config(spec, family), indent=2))
    (out_dir / "video_preprocessor_config.json").write_text(json.dumps(video_processor_config(spec, family), indent=2))
    processor_config = {"processor_class": family_of(family).processor_class}
    (out_dir / "processor_config.json").write_text(json.dumps(processor_config, indent=2))


def build_tiny(
    out_dir: Path, corpus: Iterable[str], spec: TinySpec | None = None, seed: int = 0, family: str = DEFAULT_FAMILY
) -> Path:
    """Build and save a randomly initialised tiny model of `family` (default sizes: the family's) with its files."""
    out_dir = Path(out_dir)
    chosen = family_of(family)
    spec = spec or chosen.spec
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, spec.vocab_size)
    torch.manual_seed(seed)
    model = chosen.model_class(model_config(spec, tokenizer, family))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    save_processor_files(out_dir, tokenizer, spec, family)
    return out_dir


def tokenizer_corpus(n: int = 2000) -> list[str]:
    """Texts the tiny tokenizer is trained on: the synthetic tasks' words plus the instruction templates."""
    return [
        *synthetic_corpus(n, seed=0),
        *TEMPLATES.values(),
        *SYSTEM_PROMPTS.values(),
        "<think> </think> <answer> </answer>",
    ]


def ensure_tiny(root: Path, seed: int = 0, family: str = DEFAULT_FAMILY) -> Path:
    """The randomly initialised tiny model of `family` under `root`, built once (in a temporary dir, then renamed)."""
    family_of(family)
    name = f"tiny-random-{seed}" if family == DEFAULT_FAMILY else f"tiny-random-{family}-{seed}"
    target = Path(root) / name
    if (target / "config.json").is_file():
        return target
    tmp = Path(root) / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    build_tiny(tmp, tokenizer_corpus(), seed=seed, family=family)
    try:
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
