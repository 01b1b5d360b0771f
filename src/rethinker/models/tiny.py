"""Build a tiny, real Qwen2.5-VL offline: config, locally trained tokenizer, image processor, chat template."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

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


def model_config(spec: TinySpec, tokenizer: PreTrainedTokenizerFast) -> Qwen2_5_VLConfig:
    """A Qwen2.5-VL config of the given sizes whose special-token ids match `tokenizer`."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    half_head = spec.text_hidden // spec.text_heads // 2
    temporal = half_head // 4
    height = (half_head - temporal) // 2
    mrope_section = [temporal, height, half_head - temporal - height]
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.text_hidden,
        "intermediate_size": spec.text_intermediate,
        "num_hidden_layers": spec.text_layers,
        "num_attention_heads": spec.text_heads,
        "num_key_value_heads": spec.text_kv_heads,
        "max_position_embeddings": spec.max_positions,
        "max_window_layers": spec.text_layers,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
        "tie_word_embeddings": True,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision_config = {
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
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )


def image_processor_config(spec: TinySpec) -> dict:
    """The `preprocessor_config.json` of a Qwen2-VL image processor with the tiny model's pixel bounds."""
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
        "min_pixels": spec.min_pixels,
        "max_pixels": spec.max_pixels,
        "size": {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels},
        "patch_size": spec.patch_size,
        "temporal_patch_size": 2,
        "merge_size": spec.merge_size,
    }


def video_processor_config(spec: TinySpec) -> dict:
    """The `video_preprocessor_config.json` that plain `AutoProcessor` needs for the full (torchvision) processor."""
    config = image_processor_config(spec)
    del config["image_processor_type"]
    return {**config, "video_processor_type": "Qwen2VLVideoProcessor"}


def save_processor_files(out_dir: Path, tokenizer: PreTrainedTokenizerFast, spec: TinySpec) -> None:
    """Write tokenizer, chat template and processor configs in the layout `AutoProcessor.from_pretrained` reads."""
    tokenizer.save_pretrained(out_dir)
    (out_dir / "chat_template.jinja").write_text(chat_template())
    (out_dir / "preprocessor_config.json").write_text(json.dumps(image_processor_config(spec), indent=2))
    (out_dir / "video_preprocessor_config.json").write_text(json.dumps(video_processor_config(spec), indent=2))
    processor_config = {"processor_class": "Qwen2_5_VLProcessor"}
    (out_dir / "processor_config.json").write_text(json.dumps(processor_config, indent=2))


def build_tiny(out_dir: Path, corpus: Iterable[str], spec: TinySpec = TinySpec(), seed: int = 0) -> Path:
    """Build and save a randomly initialised tiny Qwen2.5-VL with its tokenizer and processor files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, spec.vocab_size)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(model_config(spec, tokenizer))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    save_processor_files(out_dir, tokenizer, spec)
    return out_dir


def tokenizer_corpus(n: int = 2000) -> list[str]:
    """Texts the tiny tokenizer is trained on: the synthetic tasks' words plus the instruction templates."""
    return [
        *synthetic_corpus(n, seed=0),
        *TEMPLATES.values(),
        *SYSTEM_PROMPTS.values(),
        "<think> </think> <answer> </answer>",
    ]


def ensure_tiny(root: Path, seed: int = 0) -> Path:
    """The randomly initialised tiny model under `root`, built once (into a temporary directory, then renamed)."""
    target = Path(root) / f"tiny-random-{seed}"
    if (target / "config.json").is_file():
        return target
    tmp = Path(root) / f".tmp-tiny-random-{seed}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    build_tiny(tmp, tokenizer_corpus(), seed=seed)
    try:
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
