"""The policy a run trains: model, processor, rollout engine, and a frozen reference model only when KL is on."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from transformers import PreTrainedModel

from rethinker.config import RLConfig
from rethinker.errors import UserError
from rethinker.models.loading import ModelPathError, cache_dir, check_checkpoint, load_model, load_processor
from rethinker.models.processor import VisionProcessor
from rethinker.models.tiny import RANDOM_ALIASES, ensure_tiny
from rethinker.rollout.base import RolloutEngine
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.rollout.vllm_engine import (
    INSTALL_HINT,
    VLLMRolloutEngine,
    VLLMSettings,
    check_logprob_temperatures,
    vllm_installed,
)
from rethinker.train.distributed import DistEnv, shard_model


@dataclass
class Policy:
    """Everything that generates with or trains the policy weights; `source` holds the processor files."""

    model: PreTrainedModel
    processor: VisionProcessor
    engine: RolloutEngine
    source: Path
    ref_model: PreTrainedModel | None = None
    rollout_model: PreTrainedModel | None = None

    @property
    def full_model(self) -> PreTrainedModel:
        """The unsharded weights: the rollout copy under FSDP, else the trained model itself."""
        return self.rollout_model if self.rollout_model is not None else self.model


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
"""What a Hugging Face Hub model id looks like: `owner/name`."""


def resolve_model_path(path: str, key: str = "model") -> Path:
    """A checked local checkpoint directory for a model setting (`key` names it in errors, e.g. 'model.path').

    'tiny' is the packaged warm-started tiny model (reproduced by `scripts/make_tiny_warm.sh`); 'tiny-random' builds
    (once, in the cache) the randomly initialised Qwen2.5-VL it starts from, and 'tiny-random-qwen2-vl',
    'tiny-random-qwen2.5-vl' and 'tiny-random-qwen3-vl' the same for each model family. Anything else must be a local
    checkpoint directory; a missing one, a hub id or a folder without a supported config is a `ModelPathError`.
    """
    if path == "tiny":
        return Path(str(resources.files("rethinker").joinpath("assets", "tiny-warm")))
    if path in RANDOM_ALIASES:
        return ensure_tiny(cache_dir(), family=RANDOM_ALIASES[path])
    local = Path(path).expanduser()
    if not local.exists():
        if HUB_ID.fullmatch(path):
            raise ModelPathError(
                f"{key} {path!r}: no such local folder, and no model hub is reachable to fetch it as a Hugging Face "
                f"id; on a machine with network access run `huggingface-cli download {path} --local-dir DIR`, copy "
                "DIR here and pass its path"
            )
        raise ModelPathError(
            f"{key} {path!r}: no such folder; pass a local checkpoint directory, 'tiny' or one of "
            f"{', '.join(sorted(RANDOM_ALIASES))}"
        )
    if not local.is_dir():
        raise ModelPathError(f"{key} {path!r} is a file; pass the checkpoint folder that holds config.json")
    check_checkpoint(local)
    return local


def check_engine_available(engine: str) -> None:
    """Refuse `rollout.engine=vllm` up front when vLLM is not installed, before any model loads."""
    if engine == "vllm" and not vllm_installed():
        raise UserError(INSTALL_HINT)


def build_engine(config: RLConfig, model: PreTrainedModel, processor: VisionProcessor) -> RolloutEngine:
    """The rollout engine named by `rollout.engine`."""
    tokenizer = processor.tokenizer
    if config.rollout.engine == "vllm":
        rollout = config.rollout
        check_logprob_temperatures([rollout.temperature, *(s.temperature for s in config.stages)])
        settings = VLLMSettings(
            model_path=model.name_or_path,
            dtype=config.model.dtype,
            gpu_memory_utilization=rollout.vllm_gpu_memory_utilization,
            sleep_level=rollout.vllm_sleep_level,
            max_num_seqs=rollout.batch_size,
            max_images_per_prompt=rollout.vllm_max_images_per_prompt,
            max_model_len=rollout.vllm_max_model_len,
            seed=config.seed,
            trust_remote_code=config.model.trust_remote_code,
        )
        return VLLMRolloutEngine.create(settings, model, processor)
    return HFRolloutEngine(
        model, tokenizer.eos_token_id, tokenizer.pad_token_id, processor.special_token_ids, config.rollout.batch_size
    )


def load_policy(config: RLConfig, checkpoint: Path | None = None, env: DistEnv | None = None) -> Policy:
    """Load the policy from `checkpoint` when resuming, else from `model.path`; a reference copy iff kl_coef > 0.

    Under torchrun the trained and reference models are FSDP-sharded and rollouts use an unsharded copy on each rank.
    """
    check_engine_available(config.rollout.engine)
    source = Path(checkpoint) if checkpoint is not None else resolve_model_path(config.model.path, "model.path")
    model_cfg = config.model
    model = load_model(source, model_cfg.dtype, model_cfg.trust_remote_code)
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    processor = load_processor(source, model_cfg.min_pixels, model_cfg.max_pixels)
    ref_model = None
    if config.algo.kl_coef > 0:
        ref_source = resolve_model_path(config.model.path, "model.path")
        ref_model = (
            load_model(ref_source, model_cfg.dtype, model_cfg.trust_remote_code) if checkpoint else copy.deepcopy(model)
        )
        ref_model.requires_grad_(False).eval()
    if env is None or not env.active:
        return Policy(model, processor, build_engine(config, model, processor), source, ref_model)
    rollout_model = copy.deepcopy(model).requires_grad_(False).to(env.device)
    if ref_model is not None:
        ref_model = shard_model(ref_model, env.device)
    model = shard_model(model, env.device)
    engine = build_engine(config, rollout_model, processor)
    return Policy(model, processor, engine, source, ref_model, rollout_model)
