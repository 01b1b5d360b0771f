"""`rethinker coldstart CONFIG [key=value ...]`: build Vision-R1 cold-start data from a VQA file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from rethinker.coldstart.config import load_coldstart_config
from rethinker.coldstart.pipeline import run_pipeline
from rethinker.coldstart.vqa import VqaFileError

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `coldstart` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "coldstart",
        help="build cold-start SFT data by modality bridging over an OpenAI-compatible API",
        description="Pseudo chain of thought -> image description -> text reasoning -> filtering; resumable.",
    )
    parser.add_argument(
        "config", nargs="?", help="a preset name (default: coldstart) or a YAML file (see configs/coldstart.yaml)"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. mllm.model=NAME")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the pipeline for parsed arguments; 0 when every record is finished, 2 on a bad config or input."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would drown the output
    try:
        config = load_coldstart_config(args.config, args.overrides)
        summary = asyncio.run(run_pipeline(config))
    except (VqaFileError, ValueError) as error:
        print(f"rethinker coldstart: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rethinker coldstart: interrupted; finished records are saved, run again to resume", file=sys.stderr)
        return 130
    totals = summary["totals"]
    print(f"coldstart: {totals['kept']} kept, {totals['dropped']} dropped of {summary['records']} records")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (`python -m rethinker.coldstart.cli CONFIG ...`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="rethinker")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["coldstart", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
