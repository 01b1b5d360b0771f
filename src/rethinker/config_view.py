"""`rethinker config`: a resolved configuration as YAML, each key explained and each value's source beside it.

The explanations are the schema's field descriptions, printed as a comment line above each key; the sources are data
kept next to the presets (their `sources:` mapping). This module only lays them beside the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from rethinker.config import ConfigError, RLConfig, leaf_paths, load_config, parse_override, preset_path, read_preset

COMMAND_LINE = "command line"
UNRECORDED = "set by the preset; source not recorded"


def resolve(name: str, overrides: Sequence[str]) -> BaseModel:
    """The validated config of a preset or file: RL if the preset is an RL config, else SFT if it is one of those."""
    from rethinker.sft_config import SFTConfig

    for schema in (RLConfig, SFTConfig):
        try:
            load_config(schema, name, [])
        except ConfigError:
            continue
        return load_config(schema, name, overrides)
    return load_config(RLConfig, name, overrides)


def _override_key(path: Sequence[str]) -> str:
    """The printed value an override changes: its path up to the first list index."""
    head = []
    for part in path:
        if part.isdigit():
            break
        head.append(part)
    return ".".join(head)


def value_sources(name: str, overrides: Sequence[str]) -> dict[str, str]:
    """Dotted key -> source, for every value the preset chain or the command line sets."""
    data, sources = read_preset(preset_path(name))
    for path in leaf_paths(data):
        parts = path.split(".")
        if not any(".".join(parts[:end]) in sources for end in range(1, len(parts) + 1)):
            sources[path] = UNRECORDED
    for item in overrides:
        path, _ = parse_override(item)
        sources[_override_key(path)] = f"{COMMAND_LINE} ({item})"
    return sources


def _flow(value: Any) -> str:
    """One value as one line of YAML (flow style; strings with line breaks double-quoted)."""
    style = '"' if isinstance(value, str) and "\n" in value else None
    text = yaml.safe_dump(value, default_flow_style=True, default_style=style, width=1_000_000, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def field_descriptions(schema: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Dotted key -> the schema's description of it, for every field of the schema and of its nested sections."""
    descriptions = {}
    for name, info in schema.model_fields.items():
        path = f"{prefix}{name}"
        if info.description:
            descriptions[path] = " ".join(info.description.split())
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            descriptions.update(field_descriptions(info.annotation, path + "."))
    return descriptions


def _lines(
    node: Mapping[str, Any], prefix: str, depth: int, sources: Mapping[str, str], descriptions: Mapping[str, str]
) -> list[str]:
    lines = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        indent = "  " * depth
        if path in descriptions:
            lines.append(f"{indent}# {descriptions[path]}")
        comment = f"  # {sources[path]}" if path in sources else ""
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key}:{comment}")
            lines.extend(_lines(value, path + ".", depth + 1, sources, descriptions))
        else:
            lines.append(f"{indent}{key}: {_flow(value)}{comment}")
    return lines


def schedule_summary(config: RLConfig) -> list[str]:
    """Comment lines: per PTST stage, the updates it spans and the rollout and held-out lengths in force."""
    lines, start = ["# in force per update (PTST stages laid over rollout; eval.max_new_tokens null = the stage's):"], 0
    for steps in [stage.steps for stage in config.stages] or [config.train.steps]:
        rollout = config.rollout_at(start)
        lines.append(
            f"#   updates {start}-{start + steps - 1}: responses of {rollout.max_new_tokens} tokens x "
            f"{rollout.group_size} per query; eval responses of {config.eval_max_new_tokens_at(start)} tokens"
        )
        start += steps
    return lines


def annotated_yaml(config: BaseModel, sources: Mapping[str, str]) -> str:
    """The config as YAML that `load_config` reads back: each key's description above it, `# source` after it."""
    lines = _lines(config.model_dump(mode="json"), "", 0, sources, field_descriptions(type(config)))
    if isinstance(config, RLConfig):
        lines.extend(schedule_summary(config))
    return "\n".join(lines) + "\n"


def _value_at(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node[part]
    return node


def sources_table(config: BaseModel, sources: Mapping[str, str]) -> str:
    """A Markdown table (setting, value, source) of the sourced values, in the config's order."""
    data = config.model_dump(mode="json")
    order = {path: index for index, path in enumerate(_ordered_paths(data))}
    unknown = sorted(set(sources) - set(order))
    if unknown:
        raise ConfigError(f"sources name keys the config does not have: {', '.join(unknown)}")
    rows = ["| setting | value | source |", "| --- | --- | --- |"]
    for path in sorted(sources, key=order.__getitem__):
        value, source = (text.replace("|", "\\|") for text in (_flow(_value_at(data, path)), sources[path]))
        rows.append(f"| `{path}` | `{value}` | {source} |")
    return "\n".join(rows) + "\n"


def _ordered_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every section and value path of the config, parents before children."""
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_ordered_paths(value, path + "."))
    return paths


def show_config(name: str, overrides: Sequence[str], markdown: bool = False) -> str:
    """What `rethinker config NAME [key=value ...]` prints: annotated YAML, or the Markdown table of sources."""
    config = resolve(name, overrides)
    sources = value_sources(name, overrides)
    return sources_table(config, sources) if markdown else annotated_yaml(config, sources)
