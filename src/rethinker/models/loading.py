"""Load a policy (model + processor) of any supported Qwen-VL family from a local checkpoint directory."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, PreTrainedModel

from rethinker.errors import UserError
from rethinker.models.processor import VisionProcessor

SUPPORTED_MODEL_TYPES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
RENAMED_CACHE_WARNING = "`past_key_values`/`cache_params` are deprecated"
"""transformers' notices (a log line and a FutureWarning) of a keyword rename it still accepts; the project keeps the
old name, which every transformers 5.x reads."""


class _DropRenamedCacheWarning(logging.Filter):
    """Drop transformers' rename notice, printed once by every command that generates."""

    def filter(self, record: logging.LogRecord) -> bool:
        return RENAMED_CACHE_WARNING not in record.getMessage()


logging.getLogger("transformers.utils.generic").addFilter(_DropRenamedCacheWarning())
warnings.filterwarnings("ignore", message=r"`past_key_values` is deprecated", category=FutureWarning)


def cache_dir() -> Path:
    """Where built artefacts (the tiny model) are kept: `$RETHINKER_CACHE`, else `~/.cache/rethinker`."""
    return Path(os.environ.get("RETHINKER_CACHE", Path.home() / ".cache" / "rethinker"))


class ModelPathError(UserError):
    """A model path that is not a usable local checkpoint directory."""


def check_checkpoint(path: Path) -> str:
    """The model type of a local checkpoint directory; a `ModelPathError` when it is missing or unsupported."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise ModelPathError(
            f"{path}: no config.json, so not a model checkpoint; pass the folder holding config.json and "
            "*.safetensors, 'tiny' or a 'tiny-random' name"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelPathError(f"{config_file}: not valid JSON ({error}); the checkpoint is damaged") from error
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelPathError(
            f"{config_file}: model_type {model_type!r} is not supported; "
            f"use a checkpoint of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    if not any(Path(path).glob("*.safetensors")):
        raise ModelPathError(f"{path}: no *.safetensors weights; the download or checkpoint is incomplete")
    return model_type


def load_model(path: Path, dtype: str = "float32", trust_remote_code: bool = False) -> PreTrainedModel:
    """A Qwen-VL model from a local directory (safetensors), with the requested dtype."""
    check_checkpoint(path)
    return AutoModelForImageTextToText.from_pretrained(
        path, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code, use_safetensors=True
    )


def inference_device_and_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """Resolve 'auto': CUDA with bfloat16 when a GPU is present, else CPU with float32."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


def load_processor(path: Path, min_pixels: int | None = None, max_pixels: int | None = None) -> VisionProcessor:
    """The project's processor for a checkpoint, optionally overriding its pixel bounds."""
    return VisionProcessor.from_pretrained(path, min_pixels=min_pixels, max_pixels=max_pixels)
