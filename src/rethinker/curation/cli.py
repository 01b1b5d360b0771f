"""`rethinker passrate`: annotate a data set with a model's pass rate per query (k samples, the training reward)."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

from rethinker.curation.output import (
    annotation_values,
    check_suffix,
    read_json_rows,
    read_jsonl_rows,
    rebase_image_paths,
    synthetic_rows,
    with_columns,
    write_hf_as_parquet,
    write_json,
    write_jsonl,
    write_parquet,
)
from rethinker.curation.passrate import Annotator, PartialLog, annotate, partial_path, pass_rate_column
from rethinker.data.loaders import COLUMN_PRESETS, ColumnMap, column_map, load_examples
from rethinker.data.schema import Example
from rethinker.data.synthetic import make_synthetic
from rethinker.data.virl39k import VIRL39K_FILE, load_virl39k
from rethinker.errors import UserError
from rethinker.models.loading import inference_device_and_dtype, load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.prompt_bank import PromptBank
from rethinker.models.prompts import TEMPLATES
from rethinker.rewards.registry import get_reward_fn
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine

FORMATS = ("jsonl", "json", "parquet", "hf", "virl39k", "synthetic")
OUTPUT_FORMATS = {
    "jsonl": "jsonl",
    "json": "json",
    "parquet": "parquet",
    "hf": "parquet",
    "virl39k": "parquet",
    "synthetic": "jsonl",
}
"""What each input format is written back as."""
DEFAULT_SYNTHETIC_SIZE = 256
CHECKPOINT_STEP = re.compile(r"step-\d+|checkpoint-\d+|latest|final")
"""Folder names that say which save of a run a checkpoint is, not which model."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `passrate` sub-command on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "passrate",
        help="annotate data with a model's pass rate per query (k samples, training prompts and reward; resumable)",
        description="Writes the data back with PassRate_<name>, <column>_correct and <column>_samples added; relative "
        "image paths are rewritten to resolve from the output's folder, so `rethinker train data.path=OUT` reads it.",
    )
    parser.add_argument("--model", required=True, help="a local checkpoint directory, or 'tiny'")
    parser.add_argument("--data", type=Path, help="the data file or folder (not needed with --format synthetic)")
    parser.add_argument("--format", choices=FORMATS, help="default: from the file suffix")
    parser.add_argument("--columns", help=f"a column preset ({', '.join(COLUMN_PRESETS)}) or a JSON column map")
    parser.add_argument("--image-root", type=Path, help="where relative image paths resolve (default: data folder)")
    parser.add_argument("--samples", type=int, default=8, help="responses per query (k)")
    parser.add_argument("--out", required=True, type=Path, help="the annotated data file to write")
    parser.add_argument(
        "--name", help="the model name in PassRate_<name> (default: the model folder's name; RUN-step-N for a save)"
    )
    parser.add_argument("--batch-queries", type=int, default=8, help="queries per generation call")
    parser.add_argument("--max-new-tokens", type=int, default=2048)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--template", default="default", help=f"{', '.join(TEMPLATES)} or text with {{question}}")
    parser.add_argument("--system", help="a named system prompt (r1) or literal system text")
    parser.add_argument("--max-prompt-tokens", type=int, default=1024, help="longer prompts are skipped and counted")
    parser.add_argument("--reward", default="accuracy", help="the training reward: a built-in name or path:function")
    parser.add_argument("--workers", type=int, default=1, help="answer-checking worker processes")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit", type=int, help=f"only the first N rows (synthetic: N items, {DEFAULT_SYNTHETIC_SIZE})"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def parse_columns(text: str | None) -> ColumnMap:
    """A column map from a preset name or a JSON object (which may name a preset under "preset")."""
    if text is None:
        return COLUMN_PRESETS["default"]
    if text in COLUMN_PRESETS:
        return COLUMN_PRESETS[text]
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"--columns {text!r} is neither a preset ({', '.join(COLUMN_PRESETS)}) nor JSON") from error
    if not isinstance(fields, dict):
        raise UserError(f"--columns must be a JSON object, got {type(fields).__name__}")
    return column_map(fields)


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse counts below 1 and sampling settings out of range before anything loads."""
    for flag in ("samples", "batch_queries", "max_new_tokens", "max_prompt_tokens", "workers", "limit"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UserError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if not (0 < args.top_p <= 1):
        raise UserError(f"--top-p must lie in (0, 1], got {args.top_p}")
    if args.top_k < 0:
        raise UserError(f"--top-k must be >= 0, got {args.top_k}")


def default_name(model: str, model_path: Path) -> str:
    """The model name for the column: what the user typed for 'tiny' names, else the folder, with its run for a save.

    `runs/sft/checkpoints/step-375` names `sft-step-375`: a bare `step-375` would not say which model it was.
    """
    if not Path(model).expanduser().exists():
        return model
    if CHECKPOINT_STEP.fullmatch(model_path.name):
        run = model_path.parent.parent if model_path.parent.name == "checkpoints" else model_path.parent
        return f"{run.resolve().name}-{model_path.name}"
    return model_path.resolve().name


def input_format(args: argparse.Namespace) -> str:
    """The input format: `--format`, else from the data path."""
    if args.format:
        return args.format
    if args.data is None:
        raise UserError("--data is required unless --format synthetic")
    if not args.data.exists():
        raise UserError(f"--data {args.data}: no such file or folder")
    if args.data.is_dir():
        return "virl39k" if (args.data / VIRL39K_FILE).is_file() else "hf"
    suffix = args.data.suffix.lower().lstrip(".")
    if suffix not in OUTPUT_FORMATS or suffix in ("hf", "virl39k", "synthetic"):
        raise UserError(f"--data {args.data}: cannot tell the format from the suffix; pass --format")
    return suffix


def load_source(args: argparse.Namespace, data_format: str) -> list[Example]:
    """The examples to annotate."""
    if data_format == "synthetic":
        return make_synthetic(args.limit or DEFAULT_SYNTHETIC_SIZE, args.seed, "train")
    if args.data is None:
        raise UserError(f"--data is required with --format {data_format}")
    if data_format == "virl39k":
        return load_virl39k(args.data, limit=args.limit).examples
    return load_examples(
        args.data,
        format=data_format,
        columns=parse_columns(args.columns),
        image_root=args.image_root,
        limit=args.limit,
    ).examples


def write_output(
    args: argparse.Namespace, data_format: str, examples: list[Example], values: dict[str, list[Any]]
) -> None:
    """Write the annotated data in the format its input came in (see `OUTPUT_FORMATS`)."""
    if data_format == "synthetic":
        write_jsonl(with_columns(synthetic_rows(examples, args.out), values), args.out)
    elif data_format in ("jsonl", "json"):
        rows = read_jsonl_rows(args.data, len(examples)) if data_format == "jsonl" else read_json_rows(args.data)
        root = args.image_root or args.data.parent
        rows = rebase_image_paths(rows[: len(examples)], parse_columns(args.columns).images, root, args.out.parent)
        (write_jsonl if data_format == "jsonl" else write_json)(with_columns(rows, values), args.out)
    elif data_format == "hf":
        write_hf_as_parquet(args.data, values, args.out)
    else:
        source = args.data / VIRL39K_FILE if data_format == "virl39k" else args.data
        write_parquet(source, values, args.out)


def run_settings(args: argparse.Namespace, model_path: Path, data_format: str) -> dict[str, Any]:
    """What decides a query's result: a side file written under other settings is not resumed."""
    return {
        "model": str(model_path.resolve()),
        "data": str(args.data.resolve()) if args.data else None,
        "format": data_format,
        "samples": args.samples,
        "batch_queries": args.batch_queries,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "template": args.template,
        "system": args.system,
        "max_prompt_tokens": args.max_prompt_tokens,
        "reward": args.reward,
        "seed": args.seed,
    }


def build_annotator(
    args: argparse.Namespace, model_path: Path, examples: list[Example], verifier: Verifier
) -> Annotator:
    """Load the model and build the engine, prompt bank and sampling settings for the run."""
    device, dtype = inference_device_and_dtype("auto", args.dtype)
    model = load_model(model_path, dtype).to(device)
    processor = load_processor(model_path)
    engine = HFRolloutEngine.for_processor(model, processor, args.batch_queries * args.samples)
    bank = PromptBank(processor, examples, args.template, args.system, args.max_prompt_tokens)
    params = SamplingParams(args.max_new_tokens, args.temperature, args.top_p, args.top_k, n=args.samples)
    return Annotator(bank, engine, get_reward_fn(args.reward), verifier, params, args.seed)


def run(args: argparse.Namespace) -> int:
    """Check every input, annotate (resuming from the side file), then write the annotated data atomically."""
    check_numbers(args)
    data_format = input_format(args)
    check_suffix(args.out, OUTPUT_FORMATS[data_format])
    model_path = resolve_model_path(args.model, "--model")
    get_reward_fn(args.reward)
    examples = load_source(args, data_format)
    if not examples:
        raise UserError(f"--data {args.data}: no rows to annotate; the file is empty")
    column = pass_rate_column(args.name or default_name(args.model, model_path))
    partial = PartialLog(partial_path(args.out), run_settings(args, model_path, data_format))
    with Verifier(workers=args.workers) as verifier:
        annotator = build_annotator(args, model_path, examples, verifier)
        summary = annotate(annotator, partial, args.batch_queries, not args.no_progress)
    write_output(args, data_format, examples, annotation_values(summary.results, column))
    rated = [r.pass_rate for r in summary.results if r.pass_rate is not None]
    mean = f"mean pass rate {sum(rated) / len(rated):.3f}" if rated else "no query rated (all prompts too long)"
    print(
        f"{args.out}: {column} for {len(summary.results)} queries ({summary.annotated} rolled out now, "
        f"{summary.resumed} resumed, {summary.too_long} skipped as too long); {mean}"
    )
    return 0
