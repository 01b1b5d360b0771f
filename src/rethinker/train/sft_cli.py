"""The `rethinker sft` sub-command: supervised fine-tuning from a preset or YAML file plus key=value overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

from rethinker.config import load_config
from rethinker.data.errors import DataError
from rethinker.sft_config import SFTConfig

DEFAULT_PRESET = "sft-tiny"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `sft` on the `rethinker` command's sub-parsers."""
    parser = subparsers.add_parser("sft", help="supervised fine-tuning on ShareGPT-style or synthetic conversations")
    parser.add_argument(
        "config", nargs="?", help=f"a preset name from configs/ or a YAML file (default: {DEFAULT_PRESET})"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.steps=10 data.path=cold.jsonl")
    parser.set_defaults(func=run)
    return parser


def check_data_paths(config: SFTConfig) -> None:
    """Refuse a missing training or held-out file before any model loads."""
    paths = {"data.path": config.data.path if config.data.source == "file" else None, "eval.path": config.eval.path}
    for key, path in paths.items():
        if path and not Path(path).exists():
            raise DataError(f"{key} {path}: data file not found")


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, and print the final checkpoint's path."""
    from rethinker.models.paths import resolve_model_path
    from rethinker.train.sft import train_sft

    config = load_config(SFTConfig, args.config, args.overrides, default=DEFAULT_PRESET)
    resolve_model_path(config.model.path, "model.path")
    check_data_paths(config)
    final = train_sft(config)
    print(f"final checkpoint: {final}")
    return 0
