"""The default run's step time beside 0-3 CPU-bound processes, with torch's threads fitted to the load or fixed.

Usage: python benchmarks/busy_machine/run.py [--hogs 0 1 2 3] [--threads CORES auto] [--steps 12] [--warmup 3]
       [--repeats 1] [--out F]

Each (hogs, threads) cell is one fresh process per repeat (the settings alternate within each hog count) training
the `tiny` preset (the default run, without evaluation or checkpoints) beside `hogs` busy loops; the table reports the
median wall time of the steps after the warm-up ones, pooled over repeats, and the thread count the trainer chose
(`cpu/threads`). OMP_NUM_THREADS is removed from the children's environment, as on a fresh machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOG = "while True: pass"


def child(threads: str, steps: int) -> None:
    """Train `steps` steps of the default run with `threads=...`; print one JSON row per step."""
    from rethinker.config import RLConfig, load_config
    from rethinker.train.grpo import GRPOTrainer

    with tempfile.TemporaryDirectory() as work:
        overrides = [f"run_dir={work}", f"threads={threads}", "eval.every=0", "eval.at_start=false"]
        overrides += ["checkpoint.every=0", "logging.tensorboard=false", "logging.progress=false"]
        trainer = GRPOTrainer(load_config(RLConfig, "tiny", overrides))
        try:
            for _ in range(steps):
                start = time.perf_counter()
                metrics = trainer.train_step()
                row = {"s": time.perf_counter() - start, "threads": metrics["cpu/threads"]}
                print(json.dumps(row | {"others_busy": metrics["cpu/others_busy"]}), flush=True)
        finally:
            trainer.verifier.close()


def run_cell(hogs: int, threads: str, steps: int) -> list[dict]:
    """One child process beside `hogs` busy loops; its per-step rows."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    loops = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", threads, str(steps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def summarise(cells: list[dict], warmup: int) -> list[dict]:
    """Per cell: median step seconds after the warm-up, the threads chosen last, and the slowdown against the quiet
    cell of the same thread setting and against the quiet cell of the first setting."""
    steps: dict[tuple[int, str], list[float]] = {}
    for cell in cells:
        steps.setdefault((cell["hogs"], cell["threads"]), []).extend(row["s"] for row in cell["rows"][warmup:])
    medians = {key: statistics.median(seconds) for key, seconds in steps.items()}
    first = cells[0]["threads"]
    last_cell = {(cell["hogs"], cell["threads"]): cell for cell in cells}
    table = []
    for cell in last_cell.values():
        median = medians[(cell["hogs"], cell["threads"])]
        quiet = medians.get((0, cell["threads"]))
        reference = medians.get((0, first))
        table.append(
            {
                "hogs": cell["hogs"],
                "threads": cell["threads"],
                "median_s": round(median, 3),
                "threads_chosen": cell["rows"][-1]["threads"],
                "others_busy": round(cell["rows"][-1]["others_busy"], 2),
                "vs_own_quiet": round(median / quiet, 2) if quiet else None,
                f"vs_quiet_{first}": round(median / reference, 2) if reference else None,
            }
        )
    return table


def markdown(table: list[dict]) -> str:
    """The summary as a markdown table."""
    keys = list(table[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[key]) for key in keys) + " |" for row in table]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run every cell (or be one child) and write the JSON and a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, nargs="+", default=[0, 1, 2, 3])
    cores = str(len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--threads",
        nargs="+",
        default=[cores, "auto"],
        help="`threads=` settings to compare; the first is the reference",
    )
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1, help="processes per cell; medians pool their steps")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("THREADS", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if args.steps <= args.warmup:
        parser.error("--steps must exceed --warmup")
    cells = []
    for hogs in args.hogs:
        for repeat in range(args.repeats):
            for threads in args.threads if repeat % 2 == 0 else reversed(args.threads):
                print(f"hogs={hogs} threads={threads} repeat={repeat} ...", file=sys.stderr, flush=True)
                cells.append({"hogs": hogs, "threads": threads, "rows": run_cell(hogs, threads, args.steps)})
    table = summarise(cells, args.warmup)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "cells": cells,
        "table": table,
    }
    out = args.out or Path(__file__).parent / "results" / f"{time.strftime('%Y-%m-%d-%H%M')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(markdown(table))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
