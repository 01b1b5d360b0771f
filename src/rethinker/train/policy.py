"""The policy a run trains: model, processor, rollout engine, and a frozen reference model only when KL is on."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedModel

from rethinker.config import RLConfig
from rethinker.errors import UserError
from rethinker.models.loading import load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.processor import VisionProcessor
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
