"""The `rethinker` command: one entry point for every job (train, sft, eval, score, serve, coldstart, report...)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rethinker import __version__
from rethinker.coldstart import cli as coldstart_cli
from rethinker.config import RLConfig, load_config
from rethinker.curation import cli as curation_cli
from rethinker.errors import UserError
from rethinker.eval import cli as eval_cli
from rethinker.jsonl import read_jsonl
from rethinker.models.tiny import DEFAULT_FAMILY, FAMILIES
from rethinker.report import cli as report_cli
from rethinker.serve import cli as serve_cli
from rethinker.telemetry import is_main_process
from rethinker.train import sft_cli

QUIET_LOGGERS = ("httpx", "httpcore")
"""Libraries that log a line per HTTP request at INFO (cold start sends thousands); shown with --verbose only."""


def _train(args: argparse.Namespace) -> int:
    from rethinker.models.paths import resolve_model_path
    from rethinker.train.grpo import GRPOTrainer
    from rethinker.train.warmup import supervised_start_lines

    config = load_config(RLConfig, args.config, args.overrides)
    final = GRPOTrainer(config).fit()
    if not is_main_process():
        return 0
    print(f"final checkpoint: {final}")
    metrics = Path(config.run_dir) / "metrics.jsonl"
    rows = read_jsonl(metrics) if metrics.exists() else []
    evals = [(row["step"], row["eval/acc"]) for row in rows if "eval/acc" in row]
    if evals:
        (first_step, first), (last_step, last) = evals[0], evals[-1]
        print(f"held-out accuracy: {first:.3f} at step {first_step} -> {last:.3f} at step {last_step}")
        for line in supervised_start_lines(resolve_model_path(config.model.path), last):
            print(line)
    return 0


def _config(args: argparse.Namespace) -> int:
    from rethinker.config_view import show_config

    print(show_config(args.config or "tiny", args.overrides, args.markdown), end="")
    return 0


def _tiny(args: argparse.Namespace) -> int:
    from rethinker.models.tiny import build_tiny, tokenizer_corpus
    from rethinker.train.warmup import pretrain_tiny

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder for the model")
    if args.pretrain:
        if args.family != DEFAULT_FAMILY:
            raise UserError(f"--pretrain builds the {DEFAULT_FAMILY} warm start; drop --family {args.family}")
        out = pretrain_tiny(Path(args.out))
    else:
        out = build_tiny(Path(args.out), tokenizer_corpus(), seed=args.seed, family=args.family)
    print(f"tiny model written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="rethinker", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"rethinker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="RL training (GRPO, SSR, forced rethinking, PTST)")
    train.add_argument("config", nargs="?", help="a preset name from configs/ or a YAML file (default: tiny)")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.steps=10 rollout.group_size=4")
    train.set_defaults(func=_train)

    config = commands.add_parser(
        "config", help="print a preset's resolved configuration, each value commented with its source"
    )
    config.add_argument("config", nargs="?", help="a preset name from configs/ or a YAML file (default: tiny)")
    config.add_argument("overrides", nargs="*", help="key=value overrides; list items by number, e.g. stages.0.steps=4")
    config.add_argument("--markdown", action="store_true", help="print the table of sourced values (docs/recipes.md)")
    config.set_defaults(func=_config)

    tiny = commands.add_parser("tiny", help="build a tiny Qwen-VL offline (random init, or --pretrain warm-up)")
    tiny.add_argument("--out", required=True, help="output directory")
    tiny.add_argument("--seed", type=int, default=0, help="initialisation seed of the random model")
    tiny.add_argument("--pretrain", action="store_true", help="run the supervised warm-up (the packaged 'tiny' start)")
    tiny.add_argument(
        "--family",
        choices=sorted(FAMILIES),
        default=DEFAULT_FAMILY,
        help="model family of the random model (the warm-up is Qwen2.5-VL)",
    )
    tiny.set_defaults(func=_tiny)

    sft_cli.add_parser(commands)
    eval_cli.add_parsers(commands)
    coldstart_cli.add_parser(commands)
    serve_cli.add_parser(commands)
    report_cli.add_parser(commands)
    curation_cli.add_parser(commands)
    return parser


def split_overrides(args: argparse.Namespace) -> None:
    """Let `rethinker train key=value` work without a config: a first positional with '=' is an override."""
    if isinstance(getattr(args, "config", None), str) and "=" in args.config:
        args.overrides = [args.config, *args.overrides]
        args.config = None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rethinker` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    split_overrides(args)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"rethinker {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
