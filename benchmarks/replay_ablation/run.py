"""Replay ablation: none / filter / dapo / ssr from the same start, seeds and data; curves, accuracy and step time."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from rethinker.jsonl import read_jsonl

MODES = ("none", "filter", "dapo", "ssr")


def train(mode: str, seed: int, out: Path, overrides: list[str]) -> list[dict]:
    """One run of the default preset under a replay mode, resumed from its checkpoint if any; its metrics rows."""
    run_dir = out / f"{mode}-seed{seed}"
    command = [
        sys.executable,
        "-m",
        "rethinker.cli",
        "train",
        f"seed={seed}",
        f"run_dir={run_dir}",
        f"replay.mode={mode}",
        "resume=true",
    ]
    subprocess.run([*command, "logging.progress=false", *overrides], check=True)
    return read_jsonl(run_dir / "metrics.jsonl")


def summarize(rows: list[dict]) -> dict[str, float]:
    """End accuracy, mean effective shares (groups and update batch), rollout samples used and seconds per step."""
    steps = [row for row in rows if row["step"] > 0]
    evals = [row["eval/acc"] for row in rows if "eval/acc" in row]
    return {
        "acc_start": evals[0],
        "acc_end": evals[-1],
        "groups_effective": statistics.mean(row["groups/effective_frac"] for row in steps),
        "batch_effective": statistics.mean(row["batch/effective_frac"] for row in steps),
        "replay_frac": statistics.mean(row["batch/replay_frac"] for row in steps),
        "rollout_samples": steps[-1]["rollout/samples_total"],
        "step_s": statistics.median(row["time/step_s"] for row in steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/replay_ablation"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    table: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for seed in seeds:
        for mode in MODES:
            table[mode].append(summarize(train(mode, seed, args.out, args.overrides)))
    means = {mode: {k: statistics.mean(r[k] for r in runs) for k in runs[0]} for mode, runs in table.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"seeds": seeds, "runs": table, "means": means}, indent=2))
    print(
        "| mode | acc start | acc end | groups effective | batch effective | replay share | rollout samples | s/step |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode, m in means.items():
        print(
            f"| {mode} | {m['acc_start']:.3f} | {m['acc_end']:.3f} | {m['groups_effective']:.2f} |"
            f" {m['batch_effective']:.2f} | {m['replay_frac']:.2f} | {m['rollout_samples']:.0f} | {m['step_s']:.2f} |"
        )
    runs = [str(args.out / f"{mode}-seed{seeds[0]}") for mode in MODES]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rethinker.cli",
            "report",
            *runs,
            "--labels",
            ",".join(MODES),
            "--out",
            str(args.out / "report"),
        ],
        check=True,
    )


if __name__ == "__main__":
    main()
