"""Typed configuration of a supervised fine-tuning run (`rethinker sft`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rethinker.config import CheckpointConfig, LoggingConfig, ModelConfig, OptimConfig, Strict
from rethinker.data.sharegpt import SFTFormat


class SFTSyntheticConfig(Strict):
    """Synthetic worked-solution conversations: how many, and how often a recount follows."""

    size: int = Field(2048, ge=1)
    recheck_prob: float = Field(0.0, ge=0.0, le=1.0)
    families: list[str] | None = None
    image_size: int = 84


class SFTDataConfig(Strict):
    """Where the conversations come from: a ShareGPT-style file or the synthetic tasks."""

    source: Literal["file", "synthetic"] = "synthetic"
    path: str | None = Field(None, description="A ShareGPT-style JSON or JSONL file (source=file).")
    image_root: str | None = Field(None, description="Where relative image paths resolve; default: the file's folder.")
    format: SFTFormat = "auto"
    template: str = Field("default", description="Prompt template of the synthetic conversations (as in RL).")
    synthetic: SFTSyntheticConfig = Field(default_factory=SFTSyntheticConfig)
    shuffle: bool = True

    @model_validator(mode="after")
    def _needs_path(self) -> SFTDataConfig:
        if self.source == "file" and not self.path:
            raise ValueError("data.path is required when data.source is 'file'")
        return self


class SFTTrainConfig(Strict):
    """How long and in what batches to train; over-long conversations are skipped, never cut."""

    epochs: float = Field(1.0, gt=0, description="Passes over the training set; ignored when `steps` is set.")
    steps: int | None = Field(None, ge=1, description="Optimizer steps; overrides `epochs` when set.")
    max_nonfinite_in_a_row: int = Field(
        3, ge=1, description="Updates with a non-finite loss or gradient skipped in a row before stopping."
    )
    global_batch_size: int = Field(32, ge=1, description="Conversations per optimizer step.")
    micro_batch_size: int = Field(4, ge=1, description="Conversations per forward/backward pass.")
    max_length: int = Field(4096, ge=1, description="Longer conversations (image tokens included) are skipped.")
    autocast: Literal["bfloat16", "float16"] | None = Field(
        None, description="Compute in this precision while weights and optimizer stay in model.dtype (e.g. float32)."
    )


class SFTEvalConfig(Strict):
    """The held-out conversations and how often their loss is measured."""

    path: str | None = Field(None, description="A held-out file in the training data's format.")
    fraction: float = Field(0.0, ge=0.0, lt=1.0, description="Share of a training file held out when no path.")
    size: int = Field(256, ge=0, description="At most this many held-out conversations.")
    every: int = Field(50, ge=0, description="Held-out loss every N steps (0: never); also after the last step.")
    at_start: bool = True


class SFTConfig(Strict):
    """Everything one SFT run needs; `rethinker sft` resolves it from a preset, a YAML file and overrides."""

    seed: int = 0
    run_dir: str = "runs/sft"
    resume: bool = False
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: SFTDataConfig = Field(default_factory=SFTDataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: SFTTrainConfig = Field(default_factory=SFTTrainConfig)
    eval: SFTEvalConfig = Field(default_factory=SFTEvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _micro_within_global(self) -> SFTConfig:
        if self.train.micro_batch_size > self.train.global_batch_size:
            raise ValueError("train.micro_batch_size must not exceed train.global_batch_size")
        return self
