"""What a resume may change in a run's config: settings that keep the run exact pass, the others need resume_force."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from rethinker.config import ConfigError, RLConfig, dump_config

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
CHANGES_FILE = "config_changes.jsonl"
EXACT_SAFE_PREFIXES = (
    "run_dir",
    "resume",
    "resume_force",
    "logging.",
    "eval.",
    "checkpoint.",
    "reward.workers",
    "reward.timeout_s",
    "distributed.backend",
    "distributed.timeout_s",
    "train.max_nonfinite_in_a_row",
)
"""Settings a resumed run may change and still reproduce the uninterrupted run's updates exactly."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config dump as {dotted key: leaf value} (lists stay whole: a list is one setting)."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (old value, new value)} for every setting that differs between two config dumps.

    A key the old config lacks (it predates the setting) is no change while the new value is the default.
    """
    before, after = flatten(old), flatten(new)
    defaults = flatten(yaml.safe_load(dump_config(RLConfig())))
    changes = {}
    for key in sorted(before.keys() | after.keys()):
        if key not in before and after.get(key) == defaults.get(key):
            continue
        if before.get(key) != after.get(key):
            changes[key] = (before.get(key), after.get(key))
    return changes


def breaks_exactness(key: str, new: RLConfig) -> bool:
    """Whether changing `key` on resume makes the run differ from an uninterrupted one.

    `train.steps` only matters when the learning rate schedule depends on it (cosine or warmup).
    """
    if key == "train.steps":
        return new.optim.schedule != "constant" or new.optim.warmup_frac > 0
    return not any(key == prefix or (prefix.endswith(".") and key.startswith(prefix)) for prefix in EXACT_SAFE_PREFIXES)


def describe(changes: dict[str, tuple[Any, Any]]) -> str:
    """`key old -> new` for each change, comma-separated."""
    return ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items())


def check_resume_config(run_dir: Path, config: RLConfig) -> dict[str, tuple[Any, Any]]:
    """Compare a resumed run's config with the one saved in `run_dir`; returns the accepted changes.

    Changes that break exactness are refused unless `resume_force=true`.
    """
    saved = Path(run_dir) / CONFIG_FILE
    if not saved.is_file():
        log.warning("%s is missing: cannot check what this resume changed", saved)
        return {}
    old = yaml.safe_load(saved.read_text()) or {}
    new = yaml.safe_load(dump_config(config))
    changes = {key: pair for key, pair in config_changes(old, new).items() if key not in ("resume", "resume_force")}
    breaking = {key: pair for key, pair in changes.items() if breaks_exactness(key, config)}
    if breaking and not config.resume_force:
        raise ConfigError(
            f"resume=true with changed settings that make the run differ from an uninterrupted one: "
            f"{describe(breaking)} (saved in {saved}); restore them, or pass resume_force=true to accept the changes"
        )
    return changes


def record_config_changes(run_dir: Path, config: RLConfig, step: int, changes: dict[str, tuple[Any, Any]]) -> None:
    """Append accepted changes to `config_changes.jsonl` (step, keys with old and new values, forced) and log them."""
    if not changes:
        return
    forced = any(breaks_exactness(key, config) for key in changes)
    record = {"step": step, "forced": forced, "changes": {key: list(pair) for key, pair in changes.items()}}
    with (Path(run_dir) / CHANGES_FILE).open("a") as f:
        f.write(json.dumps(record) + "\n")
    log.warning("resuming at step %d with changed settings: %s", step, describe(changes))
