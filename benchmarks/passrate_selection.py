"""Effective groups at the start of RL, with and without pass-rate selection, on the default synthetic setup.

Annotates synthetic train items with `rethinker passrate` (k samples each), then starts two short GRPO runs from the
same model on the annotated file: one on every item, one on the items whose pass rate lies in an interval (default
(0, 1): neither always wrong nor always right). Reports the share of effective groups (0 < correct < G) predicted by
the annotation and measured on fresh rollouts at the first steps (`groups/effective_frac` in `metrics.jsonl`).

    python benchmarks/passrate_selection.py --model tiny --out-dir runs/passrate-bench
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rethinker.cli import main as rethinker_main
from rethinker.config import RLConfig, load_config
from rethinker.data.selection import parse_interval
from rethinker.jsonl import read_jsonl
from rethinker.models.paths import resolve_model_path
from rethinker.train.grpo import GRPOTrainer

COLUMN = "PassRate_bench"


def effective_share(rates: list[float]) -> float:
    """The share of queries whose annotated pass rate is strictly between 0 and 1."""
    return sum(0 < rate < 1 for rate in rates) / max(len(rates), 1)


def first_steps(run_dir: Path, key: str) -> list[float]:
    """The value of `key` at every logged training step (step 0, the data counts, excluded)."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    return [row[key] for row in rows if row["step"] > 0 and key in row]


def short_run(args: argparse.Namespace, data: Path, run_dir: Path, interval: str | None) -> dict[str, Any]:
    """A short GRPO run on the annotated data, optionally selected by pass rate; its group shares per step."""
    overrides = [
        f"run_dir={run_dir}",
        f"model.path={args.model}",
        "data.source=file",
        f"data.path={data}",
        f"rollout.group_size={args.samples}",
        f"rollout.max_new_tokens={args.max_new_tokens}",
        f"train.steps={args.steps}",
        f"train.queries_per_episode={args.queries}",
        "eval.at_start=false",
        "eval.every=0",
        "checkpoint.every=0",
        "logging.tensorboard=false",
        "logging.progress=false",
        f"seed={args.seed}",
    ]
    if interval is not None:
        overrides += [f"data.passrate_column={COLUMN}", f"data.passrate_interval={interval}"]
    if (run_dir / "metrics.jsonl").exists():
        raise SystemExit(f"{run_dir} holds an earlier run; pass another --out-dir")
    trainer = GRPOTrainer(load_config(RLConfig, "tiny", overrides))
    queries = len(trainer.train_bank)
    trainer.fit()
    figures: dict[str, Any] = {"queries": queries}
    for key in ("groups/effective_frac", "groups/all_wrong_frac", "groups/all_correct_frac"):
        values = first_steps(run_dir, key)
        name = key.removeprefix("groups/")
        figures.update({f"{name}_per_step": values, f"{name}_mean": sum(values) / len(values)})
    return figures


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Annotate, then compare the two runs (the second only when the interval keeps any item); returns the figures."""
    out_dir = Path(args.out_dir)
    annotated = out_dir / "annotated.jsonl"
    common = ["--model", args.model, "--format", "synthetic", "--limit", str(args.size), "--name", "bench"]
    status = rethinker_main(
        [
            "passrate",
            *common,
            "--samples",
            str(args.samples),
            "--max-new-tokens",
            str(args.max_new_tokens),
            "--batch-queries",
            str(args.batch_queries),
            "--max-prompt-tokens",
            "512",
            "--seed",
            str(args.seed),
            "--out",
            str(annotated),
        ]
    )
    if status != 0:
        raise SystemExit(status)
    rates = [row[COLUMN] for row in read_jsonl(annotated) if row[COLUMN] is not None]
    selected = any(rate in parse_interval(args.interval) for rate in rates)
    figures: dict[str, Any] = {
        "model": str(resolve_model_path(args.model)),
        "items": len(rates),
        "samples": args.samples,
        "mean_pass_rate": sum(rates) / len(rates),
        "annotation_effective_share": effective_share(rates),
        "annotation_all_wrong_share": sum(rate == 0 for rate in rates) / len(rates),
        "annotation_all_right_share": sum(rate == 1 for rate in rates) / len(rates),
        "without_selection": short_run(args, annotated, out_dir / "all", None),
        "with_selection": {"interval": args.interval, "queries": 0},
    }
    if selected:
        figures["with_selection"].update(short_run(args, annotated, out_dir / "selected", args.interval))
    return figures


def main() -> None:
    """Parse arguments, run the benchmark, print and save the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="tiny", help="a local checkpoint directory, 'tiny' (packaged warm start) or 'tiny-random'"
    )
    parser.add_argument("--out-dir", default="runs/passrate-bench")
    parser.add_argument("--size", type=int, default=256, help="synthetic train items to annotate")
    parser.add_argument("--samples", type=int, default=8, help="k for the annotation and the RL group size")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="as in the tiny preset")
    parser.add_argument("--batch-queries", type=int, default=32)
    parser.add_argument("--interval", default="(0, 1)")
    parser.add_argument("--steps", type=int, default=3, help="RL steps per run (one episode each)")
    parser.add_argument("--queries", type=int, default=16, help="queries per episode, as in the tiny preset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figures = run(args)
    Path(args.out_dir, "summary.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
