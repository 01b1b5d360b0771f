"""Run rethinker and TRL's GRPOTrainer side by side on the same work, alternating processes, and report the ratios.

Usage: python run.py [--steps 5] [--warmup 2] [--repeats 2] [--lengths 32 128] [--out results/]
Run it with the benchmark's own virtualenv (see setup.sh); `run.sh` does both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from rethinker.models.tiny import build_tiny, tokenizer_corpus

from bench_common import RunResult, RunSpec
from summary import SIDES, compare, markdown_table

HERE = Path(__file__).resolve().parent
SCRIPTS = {"rethinker": HERE / "rethinker_side.py", "trl": HERE / "trl_side.py"}
PACKAGES = ("torch", "transformers", "trl", "accelerate", "datasets", "rethinker")


def schedule(lengths: list[int], repeats: int, steps: int, model_dir: str, work_dir: Path) -> list[RunSpec]:
    """Processes in run order: per repeat and length, both sides back to back, the first side alternating."""
    specs = []
    for repeat in range(repeats):
        for position, length in enumerate(lengths):
            sides = SIDES if (repeat + position) % 2 == 0 else SIDES[::-1]
            for side in sides:
                run_dir = work_dir / f"r{repeat}-{side}-{length}"
                specs.append(RunSpec(side, length, steps, model_dir, str(run_dir)))
    return specs


def run_child(spec: RunSpec, timeout_s: float) -> tuple[RunResult, float]:
    """Run one side in its own process; returns its result and the process's wall time."""
    Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
    result_path = Path(spec.work_dir) / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(SCRIPTS[spec.side]), spec.to_json(), str(result_path)],
        check=True,
        cwd=HERE,
        env=env,
        timeout=timeout_s,
    )
    return RunResult.load(result_path), time.perf_counter() - start


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
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per process")
    parser.add_argument("--warmup", type=int, default=2, help="leading steps of each process left out")
    parser.add_argument("--repeats", type=int, default=2, help="processes per side and length")
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 128], help="new tokens per response")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON result goes")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one process may take")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Build the tiny model, run the schedule, write results/<date>.json and print the Markdown tables."""
    args = parse_args(argv)
    if args.steps <= args.warmup:
        raise SystemExit(f"--steps ({args.steps}) must exceed --warmup ({args.warmup})")
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="vs_trl-") as tmp:
        work = Path(tmp)
        model_dir = build_tiny(work / "tiny", tokenizer_corpus(), seed=0)
        results: list[RunResult] = []
        processes = []
        for spec in schedule(args.lengths, args.repeats, args.steps, str(model_dir), work):
            result, wall_s = run_child(spec, args.timeout)
            results.append(result)
            processes.append({"side": spec.side, "max_new_tokens": spec.max_new_tokens, "wall_s": wall_s})
            print(
                f"{spec.side:9s} {spec.max_new_tokens:4d} tokens: {wall_s:6.1f} s, peak RSS {result.max_rss_mb:.0f} MiB"
            )
    summary = {
        length: compare([r for r in results if r.spec.max_new_tokens == length], args.warmup) for length in args.lengths
    }
    record = {
        "date": started.isoformat(timespec="seconds"),
        "command": "bash benchmarks/vs_trl/run.sh " + " ".join(argv),
        "machine": machine(),
        "settings": vars(args) | {"out": str(args.out)},
        "summary": {str(length): entry for length, entry in summary.items()},
        "processes": processes,
        "raw": [asdict(r) for r in results],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.strftime('%Y-%m-%d-%H%M')}.json"
    path.write_text(json.dumps(record, indent=2))
    print(markdown_table(summary))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
