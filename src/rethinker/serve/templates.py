"""The instruction template a served model was trained with: read from its run, applied to each request's question.

A checkpoint at `RUN/checkpoints/step-N` answers well only when prompted as in training, so the server wraps the last
user message's question in the run's template (`prompt.template` and `prompt.system` of an RL run's `config.yaml`,
`data.template` of a synthetic SFT run) unless a request or `--template` says otherwise; `plain` sends messages as
written, through the model's own chat template only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rethinker.errors import UserError
from rethinker.models.prompts import SYSTEM_PROMPTS, TEMPLATES, resolve_template, run_template

logger = logging.getLogger(__name__)

PLAIN = "plain"
RUN_CONFIG = "config.yaml"
LEVELS_UP = 2
"""How far above the model directory a run's config is looked for: step-N -> checkpoints -> RUN."""


@dataclass(frozen=True)
class ServeTemplate:
    """The instruction template (a name or text with `{question}`), its system prompt, and where it came from."""

    template: str
    system: str | None
    source: str

    @property
    def name(self) -> str:
        """The template's name, or `custom` for template text."""
        return self.template if self.template in TEMPLATES else "custom"


def _run_template(config: Any, path: Path) -> tuple[str, str | None] | None:
    """The template and system prompt a parsed run config trained with; None when it is no training-run config."""
    if not isinstance(config, dict):
        return None
    prompt, data = config.get("prompt"), config.get("data")
    if isinstance(prompt, dict) and "template" in prompt:
        template, system = prompt.get("template"), prompt.get("system")
    elif isinstance(data, dict) and "template" in data:
        synthetic = data.get("source", "synthetic") == "synthetic"
        template, system = (run_template(data.get("template")) if synthetic else PLAIN), None
    else:
        return None
    if not isinstance(template, str) or system is not None and not isinstance(system, str):
        raise UserError(f"{path}: the prompt template must be a string; pass --template NAME to choose one")
    return template, system


def find_run_template(model_dir: Path) -> ServeTemplate | None:
    """The template of the training run holding `model_dir` (its `config.yaml` up to two folders above), if any."""
    model_dir = model_dir.absolute()
    for folder in [model_dir, *list(model_dir.parents)[:LEVELS_UP]]:
        path = folder / RUN_CONFIG
        if not path.is_file():
            continue
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise UserError(f"{path}: cannot read the run's prompt template ({error}); pass --template NAME") from error
        found = _run_template(config, path)
        if found is None:
            logger.info("%s is not a training run's config; looking further up", path)
            continue
        return ServeTemplate(found[0], found[1], str(path))
    return None


def choose_template(template: str, system: str | None, model_dir: Path) -> ServeTemplate:
    """The server's default template: `auto` reads the training run (else `plain`); a name or text is checked."""
    if template == "auto":
        chosen = find_run_template(model_dir) or ServeTemplate(PLAIN, None, f"no {RUN_CONFIG} found near the model")
    else:
        chosen = ServeTemplate(template, system, "--template")
    try:
        resolve_template(chosen.template)
    except ValueError as error:
        raise UserError(f"{chosen.source}: {error}") from error
    return chosen


def apply_template(messages: list[dict[str, Any]], template: str, system: str | None) -> list[dict[str, Any]]:
    """Messages with the last user message's last text part wrapped in `template`, and its system prompt first
    (the `r1` template brings the R1 prompt) unless the request already has a system message."""
    if system is None and template == "r1":
        system = "r1"
    text_template = resolve_template(template)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    content = list(messages[last_user]["content"])
    texts = [i for i, part in enumerate(content) if part["type"] == "text"]
    question = content[texts[-1]]["text"] if texts else ""
    wrapped = {"type": "text", "text": text_template.format(question=question)}
    if texts:
        content[texts[-1]] = wrapped
    else:
        content.append(wrapped)
    result = [*messages[:last_user], {**messages[last_user], "content": content}, *messages[last_user + 1 :]]
    if system and not any(message["role"] == "system" for message in messages):
        result.insert(0, {"role": "system", "content": SYSTEM_PROMPTS.get(system, system)})
    return result
