"""Typed configuration of the cold-start pipeline, read by the shared config loader (presets, `key=value` overrides)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rethinker.chat.endpoint import EndpointConfig
from rethinker.coldstart.prompts import DESCRIPTION_PROMPT, PSEUDO_COT_PROMPT, REASONING_PROMPT, placeholders_in
from rethinker.config import load_config

DEFAULT_PRESET = "coldstart"


class PromptsConfig(BaseModel):
    """The three stage prompts; each must use its placeholders."""

    model_config = ConfigDict(extra="forbid")

    pseudo_cot: str = PSEUDO_COT_PROMPT
    description: str = DESCRIPTION_PROMPT
    reasoning: str = REASONING_PROMPT

    @model_validator(mode="after")
    def _check_placeholders(self) -> PromptsConfig:
        required = {
            "pseudo_cot": {"question", "answer"},
            "description": {"question", "thinking_process"},
            "reasoning": {"question", "description"},
        }
        for name, needed in required.items():
            missing = needed - placeholders_in(getattr(self, name))
            if missing:
                raise ValueError(
                    f"prompts.{name} lacks placeholder(s) {', '.join('{' + m + '}' for m in sorted(missing))}"
                )
        return self


class FilterConfig(BaseModel):
    """Stage 4 settings."""

    model_config = ConfigDict(extra="forbid")

    min_reasoning_chars: int = Field(50, ge=0, description="Shorter reasoning is dropped as empty.")
    max_reasoning_chars: int = Field(200_000, gt=0, description="Longer reasoning is dropped as too long.")
    replace_description_words: bool = True
    verify_timeout_s: float = Field(
        2.0, gt=0.0, description="Time limit of one answer check; a check that overruns counts as a mismatch."
    )


class ColdstartConfig(BaseModel):
    """The whole cold-start run: input VQA file, output folder, the two models, prompts and filters."""

    model_config = ConfigDict(extra="forbid")

    input: Path
    output_dir: Path
    image_root: Path | None = Field(None, description="Base of relative image paths; default: the input's folder.")
    mllm: EndpointConfig
    reasoner: EndpointConfig
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    max_image_pixels: int | None = Field(
        12_845_056, gt=0, description="Larger images are shrunk to this many pixels (aspect kept) before sending."
    )
    records_in_flight: int = Field(16, gt=0, description="Records processed concurrently.")
    limit: int | None = Field(None, ge=0, description="Process only the first N records of the input.")
    fsync: bool = Field(True, description="fsync after every finished record.")
    stats_every: int = Field(50, gt=0, description="Rewrite stats.json after this many finished records.")
    progress: bool = True


def load_coldstart_config(config: str | Path | None, overrides: Sequence[str] = ()) -> ColdstartConfig:
    """A preset or YAML file (default: the `coldstart` preset) plus `key=value` overrides, by the shared loader."""
    return load_config(ColdstartConfig, None if config is None else str(config), overrides, default=DEFAULT_PRESET)
