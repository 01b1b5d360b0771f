"""Typed configuration of a supervised fine-tuning run (`rethinker sft`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rethinker.config import CheckpointConfig, LoggingConfig, ModelConfig, OptimConfig, Strict, Threads
from rethinker.data.sharegpt import SFTFormat
from rethinker.data.teacher import MiscountDirection, RecheckStyle


class SFTSyntheticConfig(Strict):
    """Synthetic worked-solution conversations: how many, and how often a recount follows."""

    size: int = Field(2048, ge=1, description="Number of generated conversations.")
    recheck_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="Probability that a worked solution recounts before answering."
    )
    families: list[str] | None = Field(None, description="Task families to generate; None = all of them.")
    miscount_from: int = Field(
        0, ge=0, description="The imperfect teacher miscounts colours of at least this many dots (0: exact teacher)."
    )
    miscount_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="How often the teacher reports such a crowded colour one dot off."
    )
    recheck_fix_prob: float = Field(
        0.0, ge=0.0, le=1.0, description="How often the teacher's re-check after a miscount finds the true count."
    )
    miscount_direction: MiscountDirection = Field(
        "short", description="A miscount is one dot short (short) or one short or one over at equal odds (either)."
    )
    recheck_style: RecheckStyle = Field(
        "fix",
        description="fix: a re-check after a miscount recounts right at recheck_fix_prob; vote: it counts afresh and "
        "a third count settles a disagreement.",
    )
    image_size: int = Field(84, description="Side of the generated square images, in pixels.")


class SFTDataConfig(Strict):
    """Where the conversations come from: a ShareGPT-style file or the synthetic tasks."""

    source: Literal["file", "synthetic"] = Field(
        "synthetic", description="file: a ShareGPT-style file; synthetic: generated worked solutions."
    )
    path: str | None = Field(None, description="A ShareGPT-style JSON or JSONL file (source=file).")
    image_root: str | None = Field(None, description="Where relative image paths resolve; default: the file's folder.")
    format: SFTFormat = Field(
        "auto", description="The file's conversation layout; auto recognises it from the first rows."
    )
    template: str | list[str] = Field(
        "default",
        min_length=1,
        description="Prompt template of the synthetic conversations (as in RL); a list: each draws one of them.",
    )
    synthetic: SFTSyntheticConfig = Field(
        default_factory=SFTSyntheticConfig, description="Settings of the generated conversations (source=synthetic)."
    )
    shuffle: bool = Field(True, description="Shuffle the conversations each epoch (seeded).")

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
    at_start: bool = Field(True, description="Measure the held-out loss before the first step.")


class SFTConfig(Strict):
    """Everything one SFT run needs; `rethinker sft` resolves it from a preset, a YAML file and overrides."""

    seed: int = Field(0, description="Seed of every random draw (data order, held-out split).")
    run_dir: str = Field("runs/sft", description="Where checkpoints and metrics are written.")
    resume: bool = Field(False, description="Continue from the newest checkpoint in run_dir.")
    threads: Threads = "auto"
    model: ModelConfig = Field(
        default_factory=ModelConfig, description="The model to fine-tune and its image processing."
    )
    data: SFTDataConfig = Field(default_factory=SFTDataConfig, description="The training conversations.")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="The optimizer and learning-rate schedule.")
    train: SFTTrainConfig = Field(default_factory=SFTTrainConfig, description="How long to train and in what batches.")
    eval: SFTEvalConfig = Field(default_factory=SFTEvalConfig, description="Held-out loss during training.")
    checkpoint: CheckpointConfig = Field(
        default_factory=CheckpointConfig, description="When to save and how many to keep."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Where metrics go.")

    @model_validator(mode="after")
    def _micro_within_global(self) -> SFTConfig:
        if self.train.micro_batch_size > self.train.global_batch_size:
            raise ValueError("train.micro_batch_size must not exceed train.global_batch_size")
        return self
