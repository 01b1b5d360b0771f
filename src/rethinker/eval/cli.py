"""`rethinker eval` (generate and score) and `rethinker score` (score saved responses) sub-commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rethinker.eval.outputs import markdown_table
from rethinker.eval.registry import benchmark_names, get_benchmark
from rethinker.eval.rescore import run_score
from rethinker.eval.runner import EvalSettings, run_eval
from rethinker.models.prompts import TEMPLATES

USER_ERRORS = (ValueError, FileNotFoundError)
"""Errors that come from the user's input (bad names, data, settings, a folder of another run): one line, status 2."""
MISSING_RESPONSES = KeyError
"""What `run_score` raises when problems have no response."""


def _common(parser: argparse.ArgumentParser) -> None:
    """Options both sub-commands take: the benchmark, its data, the output folder, a limit."""
    parser.add_argument("--benchmark", required=True, help=f"one of {', '.join(benchmark_names())}")
    parser.add_argument("--data", required=True, type=Path, help="the benchmark's local file or folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder (samples.jsonl, results.json/.md)")
    parser.add_argument("--limit", type=int, help="only the first N problems")


def add_parsers(subparsers: Any) -> None:
    """Register the `eval` and `score` sub-commands on an argparse subparsers object."""
    evaluate = subparsers.add_parser(
        "eval",
        help="generate responses on a benchmark and score them with its official rules (resumable)",
        description="Greedy by default; --samples K gives pass@k and maj@k; --rethink adds test-time rethinking.",
    )
    evaluate.add_argument("--model", required=True, help="a local checkpoint directory, or 'tiny'")
    _common(evaluate)
    evaluate.add_argument("--batch-size", type=int, default=8, help="problems per generation batch")
    evaluate.add_argument(
        "--template", help=f"a named template ({', '.join(TEMPLATES)}) or text with {{question}}; default: official"
    )
    evaluate.add_argument("--system", help="a named system prompt (r1) or literal system text")
    evaluate.add_argument("--max-new-tokens", type=int, default=2048)
    evaluate.add_argument("--samples", type=int, default=1, help="responses per problem (pass@k, maj@k)")
    evaluate.add_argument("--temperature", type=float, help="default: 0 (greedy) with one sample, 1.0 with several")
    evaluate.add_argument("--top-p", type=float, default=1.0)
    evaluate.add_argument("--top-k", type=int, default=0)
    evaluate.add_argument("--rethink", action="store_true", help='test-time forced rethinking with "\\n\\nWait"')
    evaluate.add_argument("--min-pixels", type=int)
    evaluate.add_argument("--max-pixels", type=int)
    evaluate.add_argument("--max-prompt-tokens", type=int, help="longer prompts are skipped and counted")
    evaluate.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(func=run_eval_command)

    score = subparsers.add_parser("score", help="score saved responses (JSONL id/response, or JSON keyed by id)")
    _common(score)
    score.add_argument("--responses", required=True, type=Path)
    score.add_argument("--allow-missing", action="store_true", help="score problems without a response as wrong")
    score.set_defaults(func=run_score_command)


def settings_from_args(args: argparse.Namespace) -> EvalSettings:
    """The run settings given on the command line."""
    return EvalSettings(
        model=args.model,
        benchmark=args.benchmark,
        data=args.data,
        out=args.out,
        limit=args.limit,
        batch_size=args.batch_size,
        template=args.template,
        system=args.system,
        max_new_tokens=args.max_new_tokens,
        samples=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        rethink=args.rethink,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        max_prompt_tokens=args.max_prompt_tokens,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
    )


def _report_error(command: str, error: Exception) -> int:
    """Print a user error on one line; exit status 2."""
    print(f"rethinker {command}: {error}", file=sys.stderr)
    return 2


def run_eval_command(args: argparse.Namespace) -> int:
    """Run `rethinker eval` and print the Markdown table; 2 on a bad input, 130 when interrupted (resumable)."""
    try:
        results = run_eval(settings_from_args(args))
    except USER_ERRORS as error:
        return _report_error("eval", error)
    except KeyboardInterrupt:
        print("rethinker eval: interrupted; finished problems are saved, run again to resume", file=sys.stderr)
        return 130
    print(markdown_table(results))
    return 0


def run_score_command(args: argparse.Namespace) -> int:
    """Run `rethinker score` and print the Markdown table; 2 on a bad input."""
    try:
        results = run_score(
            get_benchmark(args.benchmark), args.data, args.responses, args.out, args.limit, args.allow_missing
        )
    except (*USER_ERRORS, MISSING_RESPONSES) as error:
        return _report_error("score", error)
    print(markdown_table(results))
    return 0
