"""Run rethinker and TRL's GRPOTrainer side by side over a grid of cells, alternating processes, and report the ratios.

Usage: python run.py [--sizes tiny small base] [--image-tokens 16 256 1024] [--lengths 32 128 512] [--groups 8 16]
                     [--cells small/1024/128/8 ...] [--all] [--steps 3] [--warmup 1] [--repeats 1] [--threads 2]
Run it with the benchmark's own virtualenv (see setup.sh); `run.sh` does both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from importlib.metadata import version
from pathlib import Path

from rethinker.models.processor import VisionProcessor
from rethinker.models.prompts import build_messages
from rethinker.models.tiny import SCALED_SPECS, build_tiny, tokenizer_corpus

from bench_common import SEED, RunResult, RunSpec, image_side, train_examples
from flops import StepShape, dims_from_config, floor_seconds, step_flops
from grid import GROUPS, IMAGE_TOKENS, NEW_TOKENS, SIZES, Cell, product, select, trl_left_out_reason
from summary import SIDES, compare, grid_table

HERE = Path(__file__).resolve().parent
SCRIPTS = {"rethinker": HERE / "rethinker_side.py", "trl": HERE / "trl_side.py"}
PACKAGES = ("torch", "transformers", "trl", "accelerate", "datasets", "rethinker")
PROCESSOR_FILES = ("preprocessor_config.json", "video_preprocessor_config.json")


def schedule(
    cells: list[Cell],
    repeats: int,
    steps: int,
    model_dirs: dict[str, str],
    work_dir: Path,
    sides_of: dict[str, tuple[str, ...]] | None = None,
    **common: int,
) -> list[RunSpec]:
    """Processes in run order: per repeat and cell, its sides (default both) back to back, first side alternating."""
    specs = []
    for repeat in range(repeats):
        for position, cell in enumerate(cells):
            sides = (sides_of or {}).get(cell.name, SIDES)
            for side in sides if (repeat + position) % 2 == 0 else sides[::-1]:
                run_dir = work_dir / f"r{repeat}-{side}-{cell.name.replace('/', '-')}"
                spec = RunSpec(side, cell.new_tokens, steps, model_dirs[cell.name], str(run_dir), cell.group_size)
                specs.append(replace(spec, image_tokens=cell.image_tokens, **common))
    return specs


def child_env(threads: int) -> dict[str, str]:
    """The environment of a measured process: the thread count for OpenMP as well as torch."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}


def run_child(script: Path, args: list[str], launcher: list[str], threads: int, timeout_s: float) -> float:
    """Run one measured process (behind `launcher`, e.g. a CPU pinning); returns its wall time."""
    start = time.perf_counter()
    subprocess.run(
        [*launcher, sys.executable, str(script), *args], check=True, cwd=HERE, env=child_env(threads), timeout=timeout_s
    )
    return time.perf_counter() - start


def cell_model_dir(model_dir: Path, image_tokens: int, out_dir: Path) -> Path:
    """`model_dir`'s files (linked) with pixel bounds that turn every image into exactly `image_tokens` tokens."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in model_dir.iterdir():
        if path.name not in PROCESSOR_FILES and not (out_dir / path.name).exists():
            (out_dir / path.name).symlink_to(path.resolve())
    pixels = image_side(image_tokens) ** 2
    for name in PROCESSOR_FILES:
        config = json.loads((model_dir / name).read_text())
        config.update(min_pixels=pixels, max_pixels=pixels, size={"shortest_edge": pixels, "longest_edge": pixels})
        (out_dir / name).write_text(json.dumps(config, indent=2))
    return out_dir


def prompt_tokens(model_dir: Path, image_tokens: int, count: int) -> float:
    """Mean length in tokens (image tokens included) of the first `count` training prompts, default template."""
    processor = VisionProcessor.from_pretrained(model_dir)
    examples = train_examples(image_tokens)[:count]
    lengths = [processor.encode(processor.render(build_messages(e)), e.images).length for e in examples]
    return sum(lengths) / len(lengths)


def machine() -> dict[str, str | int]:
    """What the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
        "python": platform.python_version(),
        **{name: version(name) for name in PACKAGES},
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options; a bad value exits with one line naming the option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES), help="model sizes")
    parser.add_argument("--image-tokens", type=int, nargs="+", default=list(IMAGE_TOKENS), help="per prompt")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(NEW_TOKENS), help="new tokens per response")
    parser.add_argument("--groups", type=int, nargs="+", default=list(GROUPS), help="responses per prompt")
    parser.add_argument("--cells", nargs="+", default=None, help="explicit cells size/image_tokens/new_tokens/group")
    parser.add_argument("--all", action="store_true", help="measure every cell of the axes, both sides (none left out)")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES), help="which sides to run")
    parser.add_argument("--prompts", type=int, default=1, help="prompts per step (each with its group)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per process")
    parser.add_argument("--warmup", type=int, default=1, help="leading steps of each process left out")
    parser.add_argument("--repeats", type=int, default=1, help="processes per side and cell")
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenMP threads in every measured process")
    parser.add_argument("--launcher", default="", help="command prefix of every measured process, e.g. 'taskset -c 0'")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON result goes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one process may take")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps ({args.steps}) must exceed --warmup ({args.warmup})")
    for name in ("threads", "prompts", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    try:
        for tokens in args.image_tokens:
            image_side(tokens)
        args.cells = [Cell.parse(text) for text in args.cells] if args.cells else None
        for cell in args.cells or []:
            image_side(cell.image_tokens)
    except ValueError as error:
        parser.error(str(error))
    return args


def chosen_cells(args: argparse.Namespace) -> tuple[list[Cell], dict[str, str]]:
    """The cells to measure (explicit `--cells` are all kept) and the left-out ones with their reasons."""
    if args.cells:
        return list(args.cells), {}
    return select(product(args.sizes, args.image_tokens, args.lengths, args.groups), keep_all=args.all)


def sides_per_cell(cells: list[Cell], args: argparse.Namespace) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The sides run in each cell (`--sides`, less TRL where `trl_left_out_reason` says) and TRL's left-out reasons."""
    sides_of, trl_left_out = {}, {}
    for cell in cells:
        reason = None if args.all else trl_left_out_reason(cell)
        if reason is not None and "trl" in args.sides:
            trl_left_out[cell.name] = reason
        sides_of[cell.name] = tuple(side for side in args.sides if side == "rethinker" or reason is None)
    return sides_of, trl_left_out


def measure_floor(cells: list[Cell], shapes: dict[str, StepShape], configs: dict, args, work: Path) -> dict:
    """Run floor.py once (same threads, same launcher): matmul GFLOP/s and each cell's bare decode-token time."""
    models: dict[str, dict] = {}
    for cell in cells:
        text, _ = dims_from_config(configs[cell.size])
        shape = shapes[cell.name]
        entry = models.setdefault(cell.size, {"text": asdict(text), "shapes": []})
        decode_shape = [shape.prompts * shape.group_size, shape.prompt_tokens + shape.new_tokens // 2]
        if decode_shape not in entry["shapes"]:
            entry["shapes"].append(decode_shape)
    request = {"threads": args.threads, "models": models}
    result_path = work / "floor.json"
    launcher = shlex.split(args.launcher)
    run_child(HERE / "floor.py", [json.dumps(request), str(result_path)], launcher, args.threads, args.timeout)
    return json.loads(result_path.read_text())


def cell_floor(cell: Cell, shape: StepShape, config: dict, measured: dict) -> dict:
    """The cell's FLOPs and floor seconds from the measured throughput and bare decode-token time.

    `per_row_floor` is the same floor for work that runs each row's own copy of its prompt (what TRL does): the
    ratio of the two is the most that sharing the prompt can gain when both sides are perfect.
    """
    text, vision = dims_from_config(config)
    key = f"{cell.size}/{shape.prompts * shape.group_size}/{shape.prompt_tokens + shape.new_tokens // 2}"
    token_s = measured["decode_token_s"][key]
    flops = step_flops(text, vision, shape)
    per_row = step_flops(text, vision, replace(shape, prompts=shape.prompts * shape.group_size, group_size=1))
    return {
        "flops": flops,
        "floor": floor_seconds(flops, measured["matmul_gflops"], token_s, shape.new_tokens),
        "per_row_floor": floor_seconds(per_row, measured["matmul_gflops"], token_s, shape.new_tokens),
        "decode_token_s": token_s,
    }


def cell_summaries(cells: list[Cell], results: list[RunResult], setup: dict, warmup: int) -> dict[str, dict]:
    """Per cell whose processes have all finished: the comparison, its floor and its prompt length."""
    summary = {}
    for cell in cells:
        mine = [r for r in results if r.spec.model_dir == setup["model_dirs"][cell.name] and _same(r.spec, cell)]
        if len(mine) < setup["processes_per_cell"][cell.name]:
            continue
        shape = setup["shapes"][cell.name]
        floor = cell_floor(cell, shape, setup["configs"][cell.size], setup["measured"])
        summary[cell.name] = compare(mine, warmup) | floor | {"prompt_tokens": shape.prompt_tokens}
    return summary


def prepare(cells: list[Cell], sides_of: dict, args: argparse.Namespace, work: Path) -> dict:
    """Build each size's model and each cell's pixel bounds, read the prompt lengths, measure the floor."""
    sizes = sorted({cell.size for cell in cells})
    corpus = tokenizer_corpus()
    base_dirs = {size: build_tiny(work / size, corpus, SCALED_SPECS[size], seed=SEED) for size in sizes}
    configs = {size: json.loads((base_dirs[size] / "config.json").read_text()) for size in sizes}
    model_dirs, shapes = {}, {}
    for cell in cells:
        cell_dir = cell_model_dir(base_dirs[cell.size], cell.image_tokens, work / f"{cell.size}-{cell.image_tokens}")
        model_dirs[cell.name] = str(cell_dir)
        length = round(prompt_tokens(cell_dir, cell.image_tokens, args.steps * args.prompts))
        shapes[cell.name] = StepShape(args.prompts, length, cell.image_tokens, cell.group_size, cell.new_tokens)
    measured = measure_floor(cells, shapes, configs, args, work)
    print(f"matmul {measured['matmul_gflops']:.1f} GFLOP/s with {measured['threads']} thread(s)", flush=True)
    processes_per_cell = {cell.name: args.repeats * len(sides_of[cell.name]) for cell in cells}
    return {
        "configs": configs,
        "model_dirs": model_dirs,
        "shapes": shapes,
        "measured": measured,
        "processes_per_cell": processes_per_cell,
    }


def main(argv: list[str]) -> int:
    """Build the models, measure the floor, run the schedule, write results/<date>.json and print the tables.

    The JSON is rewritten after every process (finished cells only), so an interrupted run keeps what it measured.
    """
    args = parse_args(argv)
    cells, left_out = chosen_cells(args)
    sides_of, trl_left_out = sides_per_cell(cells, args)
    started = datetime.datetime.now(datetime.UTC)
    launcher = shlex.split(args.launcher)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.strftime('%Y-%m-%d-%H%M')}.json"
    record = {
        "date": started.isoformat(timespec="seconds"),
        "command": "bash benchmarks/vs_trl/run.sh " + shlex.join(argv),
        "machine": machine(),
        "settings": vars(args) | {"out": str(args.out), "cells": [c.name for c in cells]},
        "left_out": left_out,
        "trl_left_out": trl_left_out,
    }
    with tempfile.TemporaryDirectory(prefix="vs_trl-") as tmp:
        work = Path(tmp)
        setup = prepare(cells, sides_of, args, work)
        record["matmul_gflops"] = setup["measured"]["matmul_gflops"]
        results: list[RunResult] = []
        processes = []
        common = {"prompts_per_step": args.prompts, "threads": args.threads}
        for spec in schedule(cells, args.repeats, args.steps, setup["model_dirs"], work, sides_of, **common):
            result_path = Path(spec.work_dir) / "result.json"
            Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
            wall_s = run_child(
                SCRIPTS[spec.side], [spec.to_json(), str(result_path)], launcher, spec.threads, args.timeout
            )
            result = RunResult.load(result_path)
            results.append(result)
            processes.append({"wall_s": wall_s, **asdict(spec)})
            print(
                f"{spec.side:9s} {Path(spec.work_dir).name}: {wall_s:6.1f} s, RSS {result.max_rss_mb:.0f} MiB",
                flush=True,
            )
            record |= {
                "summary": cell_summaries(cells, results, setup, args.warmup),
                "processes": processes,
                "raw": [asdict(r) for r in results],
            }
            path.write_text(json.dumps(record, indent=2))
    record["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(record, indent=2))
    print(grid_table(record))
    print(f"\nwritten {path}")
    return 0


def _same(spec: RunSpec, cell: Cell) -> bool:
    """Whether a process measured `cell` (its model directory already fixes size and image tokens)."""
    return (spec.max_new_tokens, spec.group_size) == (cell.new_tokens, cell.group_size)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
