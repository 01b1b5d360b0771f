"""Train-test aligned evaluation: ask a checkpoint with the prompt, system prompt, pixel bounds and response length
its training run used, read from the run's `config.yaml` (found by walking up from the checkpoint folder).

RL runs (`rethinker train`) give `prompt.template`, `prompt.system`, `model.min_pixels`/`max_pixels` and the response
length of their last PTST stage (else `rollout.max_new_tokens`); SFT runs (`rethinker sft`) give `data.template` and
the pixel bounds (the first template when it trained on several). Explicit flags always win; `--template official` keeps
each benchmark's own query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rethinker.errors import UserError
from rethinker.models.prompts import run_template

RUN_CONFIG = "config.yaml"
SEARCH_LEVELS = 4
"""Folders searched for the run's config: the checkpoint's own and up to three above (RUN_DIR/checkpoints/step-N)."""
OFFICIAL = "official"
"""The `--template` value that asks with each benchmark's own query."""


class RunConfigError(UserError):
    """A training run's `config.yaml` that cannot be read; the message names the file and key."""


@dataclass(frozen=True)
class TrainedPrompting:
    """How a run prompted its model during training; None where the run did not set a value."""

    config: Path | None = None
    template: str | None = None
    system: str | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_new_tokens: int | None = None


def _load(path: Path) -> Any:
    """A YAML file's content; a file that is not YAML is an error naming it."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RunConfigError(f"{path}: not valid YAML ({error})") from error


def is_run_config(path: Path) -> bool:
    """Whether a `config.yaml` is a rethinker run's (a mapping with `run_dir`), not another tool's file."""
    data = _load(path)
    return isinstance(data, Mapping) and "run_dir" in data


def find_run_config(model: str) -> Path | None:
    """The `config.yaml` of the run a checkpoint folder belongs to, or None (the tiny model, a downloaded model)."""
    folder = Path(model)
    if not folder.is_dir():
        return None
    for candidate in [folder, *folder.absolute().parents][:SEARCH_LEVELS]:
        if (candidate / RUN_CONFIG).is_file() and is_run_config(candidate / RUN_CONFIG):
            return candidate / RUN_CONFIG
    return None


def _section(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    """A section of the config (empty when absent); anything but a mapping is an error naming the key."""
    value = data.get(name) or {}
    if not isinstance(value, Mapping):
        raise RunConfigError(f"{path}: '{name}' must be a mapping, got {type(value).__name__}")
    return value


def _optional_int(section: Mapping[str, Any], key: str, where: str, path: Path) -> int | None:
    """A positive integer setting, or None; anything else is an error naming the key."""
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RunConfigError(f"{path}: '{where}.{key}' must be a positive integer, got {value!r}")
    return value


def _trained_response_tokens(data: Mapping[str, Any], path: Path) -> int | None:
    """The response length of the last PTST stage, else `rollout.max_new_tokens` (None in SFT runs)."""
    stages = data.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(stage, Mapping) for stage in stages):
        raise RunConfigError(f"{path}: 'stages' must be a list of mappings")
    if stages:
        return _optional_int(stages[-1], "max_new_tokens", f"stages[{len(stages) - 1}]", path)
    return _optional_int(_section(data, "rollout", path), "max_new_tokens", "rollout", path)


def read_trained_prompting(path: Path) -> TrainedPrompting:
    """The prompting settings recorded in a run's `config.yaml` (RL or SFT)."""
    data = _load(path) or {}
    if not isinstance(data, Mapping):
        raise RunConfigError(f"{path}: top level must be a mapping")
    model = _section(data, "model", path)
    prompt = _section(data, "prompt", path)
    template = prompt.get("template") or run_template(_section(data, "data", path).get("template"))
    system = prompt.get("system")
    for key, value in (("template", template), ("system", system)):
        if value is not None and not isinstance(value, str):
            raise RunConfigError(f"{path}: prompt {key} must be text, got {value!r}")
    return TrainedPrompting(
        config=Path(path),
        template=template,
        system=system,
        min_pixels=_optional_int(model, "min_pixels", "model", path),
        max_pixels=_optional_int(model, "max_pixels", "model", path),
        max_new_tokens=_trained_response_tokens(data, path),
    )
