"""`rethinker eval` (generate and score) and `rethinker score` (score saved responses) sub-commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rethinker.errors import UserError
from rethinker.eval.alignment import OFFICIAL
from rethinker.eval.judge import JudgeSettings
from rethinker.eval.outputs import markdown_table
from rethinker.eval.registry import benchmark_names, get_benchmark
from rethinker.eval.rescore import run_score
from rethinker.eval.runner import ENGINES, EvalSettings, run_eval
from rethinker.models.prompts import TEMPLATES


def _common(parser: argparse.ArgumentParser) -> None:
    """Options both sub-commands take: the benchmark, its data, the output folder, a limit, the judge."""
    parser.add_argument("--benchmark", required=True, help=f"one of {', '.join(benchmark_names())}")
    parser.add_argument("--data", required=True, type=Path, help="the benchmark's local file or folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder (samples.jsonl, results.json/.md)")
    parser.add_argument("--limit", type=int, help="only the first N problems")
    judge = parser.add_argument_group("answer extraction by an LLM judge (default: the benchmark's rules)")
    judge.add_argument("--judge", metavar="URL", help="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    judge.add_argument("--judge-model", help="the judge's model name at that endpoint (required with --judge)")
    judge.add_argument("--judge-api-key-env", metavar="VAR", help="environment variable holding the API key")
    judge.add_argument("--judge-concurrency", type=int, default=8, help="requests in flight at most")
    judge.add_argument("--judge-attempts", type=int, default=3, help="tries per request before the rules take over")
    judge.add_argument("--judge-timeout", type=float, default=120.0, help="seconds one request may take")
    judge.add_argument("--judge-cache", type=Path, help="reply cache file (default: in the rethinker cache folder)")


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
        "--template",
        help=f"'{OFFICIAL}' (each benchmark's own query), a named template ({', '.join(TEMPLATES)}) or text with "
        "{question}; default: the checkpoint's training run's template, else official",
    )
    evaluate.add_argument("--system", help="a named system prompt (r1) or literal text; default: the training run's")
    evaluate.add_argument(
        "--max-new-tokens", type=int, help="default: the training run's, else 2048 or half the model's context"
    )
    evaluate.add_argument("--samples", type=int, default=1, help="responses per problem (pass@k, maj@k)")
    evaluate.add_argument("--temperature", type=float, help="default: 0 (greedy) with one sample, 1.0 with several")
    evaluate.add_argument("--top-p", type=float, default=1.0)
    evaluate.add_argument("--top-k", type=int, default=0)
    evaluate.add_argument("--rethink", action="store_true", help='test-time forced rethinking with "\\n\\nWait"')
    evaluate.add_argument("--min-pixels", type=int, help="default: the training run's")
    evaluate.add_argument("--max-pixels", type=int, help="default: the training run's")
    evaluate.add_argument("--max-prompt-tokens", type=int, help="longer prompts are skipped and counted")
    evaluate.add_argument(
        "--engine",
        default="auto",
        choices=ENGINES,
        help="hf (CPU or GPU), vllm (GPU); auto: vllm where installed on GPU",
    )
    evaluate.add_argument("--gpu-memory-utilization", type=float, default=0.9, help="vllm: share of GPU memory")
    evaluate.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    evaluate.add_argument("--device", default="auto", help="hf engine: auto, cpu, cuda, cuda:1 ...")
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
        engine=args.engine,
        gpu_memory_utilization=args.gpu_memory_utilization,
    )


def judge_from_args(args: argparse.Namespace) -> JudgeSettings | None:
    """The judge settings given on the command line, or None without --judge."""
    if args.judge is None:
        return None
    if not args.judge_model:
        raise UserError("--judge needs --judge-model (the model name the endpoint serves)")
    return JudgeSettings(
        url=args.judge,
        model=args.judge_model,
        api_key_env=args.judge_api_key_env,
        concurrency=args.judge_concurrency,
        attempts=args.judge_attempts,
        timeout_s=args.judge_timeout,
        cache=args.judge_cache,
    )


def _report_error(command: str, error: Exception) -> int:
    """Print a user error on one line; exit status 2."""
    print(f"rethinker {command}: {error}", file=sys.stderr)
    return 2


def run_eval_command(args: argparse.Namespace) -> int:
    """Run `rethinker eval` and print the Markdown table; 2 on a bad input, 130 when interrupted (resumable)."""
    try:
        results = run_eval(settings_from_args(args), judge_from_args(args))
    except (ValueError, FileNotFoundError) as error:
        return _report_error("eval", error)
    except KeyboardInterrupt:
        print("rethinker eval: interrupted; finished problems are saved, run again to resume", file=sys.stderr)
        return 130
    print(markdown_table(results))
    return 0


def score_summary(counts: dict[str, Any]) -> str:
    """One line on how the responses met the problems: read, unmatched and missing ids."""
    unmatched = ", ".join(counts.get("unmatched_ids", [])[:3])
    missing = ", ".join(counts.get("missing_ids", [])[:3])
    return (
        f"responses: {counts['responses']} read, {counts['unmatched']} match no problem"
        + (f" (e.g. {unmatched})" if unmatched else "")
        + f", {counts['missing']} problem(s) without a response"
        + (f" (e.g. {missing})" if missing else "")
    )


def run_score_command(args: argparse.Namespace) -> int:
    """Run `rethinker score`, print the Markdown table and the id summary; 2 on a bad input."""
    try:
        results = run_score(
            get_benchmark(args.benchmark),
            args.data,
            args.responses,
            args.out,
            args.limit,
            args.allow_missing,
            judge_from_args(args),
        )
    except (ValueError, FileNotFoundError) as error:
        return _report_error("score", error)
    print(markdown_table(results))
    print(score_summary(results["counts"]))
    return 0
