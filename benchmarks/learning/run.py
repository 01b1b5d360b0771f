"""Does the default RL run learn? Held-out accuracy of `rethinker train` (default preset) at start and end, per seed."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rethinker.jsonl import read_jsonl


def start_seed(seed: int, out: Path, overrides: list[str]) -> tuple[subprocess.Popen, float]:
    """Start training the default preset with one seed; returns the process and its start time."""
    run_dir = out / f"seed-{seed}"
    command = [sys.executable, "-m", "rethinker.cli", "train", f"seed={seed}", f"run_dir={run_dir}", *overrides]
    return subprocess.Popen([*command, "logging.progress=false"]), time.perf_counter()


def read_seed(seed: int, out: Path, wall: float) -> dict:
    """Start/end held-out accuracy, the curve, training seconds and wall time of one finished seed."""
    run_dir = out / f"seed-{seed}"
    rows = read_jsonl(run_dir / "metrics.jsonl")
    evals = [(row["step"], row["eval/acc"]) for row in rows if "eval/acc" in row]
    train_seconds = sum(row.get("time/step_s", 0.0) for row in rows)
    return {
        "seed": seed,
        "acc_start": evals[0][1],
        "acc_end": evals[-1][1],
        "curve": evals,
        "steps": rows[-1]["step"],
        "train_seconds": train_seconds,
        "wall_seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/learning"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at the same time (each shares the cores)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    results = []
    for group in range(0, len(seeds), args.jobs):
        started = {seed: start_seed(seed, args.out, args.overrides) for seed in seeds[group : group + args.jobs]}
        for seed, (process, start) in started.items():
            if process.wait() != 0:
                raise SystemExit(f"seed {seed} failed with exit code {process.returncode}")
            results.append(read_seed(seed, args.out, time.perf_counter() - start))
    gains = [r["acc_end"] - r["acc_start"] for r in results]
    summary = {
        "runs": results,
        "acc_start_mean": statistics.mean(r["acc_start"] for r in results),
        "acc_end_mean": statistics.mean(r["acc_end"] for r in results),
        "gain_mean": statistics.mean(gains),
        "wall_seconds_max": max(r["wall_seconds"] for r in results),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print("| seed | held-out acc start | end | gain | train s | wall s |")
    print("|---|---|---|---|---|---|")
    for r, gain in zip(results, gains, strict=True):
        print(
            f"| {r['seed']} | {r['acc_start']:.3f} | {r['acc_end']:.3f} | {gain:+.3f} | {r['train_seconds']:.0f} |"
            f" {r['wall_seconds']:.0f} |"
        )
    print(
        f"| mean | {summary['acc_start_mean']:.3f} | {summary['acc_end_mean']:.3f} | {summary['gain_mean']:+.3f} | | |"
    )


if __name__ == "__main__":
    main()
