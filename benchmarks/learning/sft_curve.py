"""Greedy held-out accuracy of the tiny model along a supervised warm-up (to pick an RL starting point)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rethinker.config import RLConfig, load_config
from rethinker.train.grpo import GRPOTrainer
from rethinker.train.sft import SFTTrainer
from rethinker.train.sft_config import SFTConfig


def held_out_accuracy(model_dir: Path, families: str, eval_size: int, run_dir: Path) -> float:
    """Greedy accuracy of a checkpoint on the synthetic eval split (the RL trainer's own evaluation)."""
    config = load_config(
        RLConfig,
        "tiny",
        [
            f"model.path={model_dir}",
            f"run_dir={run_dir}",
            f"data.synthetic.families={families}",
            f"data.synthetic.eval_size={eval_size}",
            f"eval.size={eval_size}",
            "data.synthetic.train_size=16",
            "logging.progress=false",
            "logging.tensorboard=false",
        ],
    )
    trainer = GRPOTrainer(config)
    try:
        return trainer.evaluate()["eval/acc"]
    finally:
        trainer.verifier.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--families", default="[count]")
    parser.add_argument("--eval-size", type=int, default=200)
    parser.add_argument("--checkpoints", default="25,50,75,100,150,200")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    steps = [int(s) for s in args.checkpoints.split(",")]
    rows = []
    for index, step in enumerate(steps):
        config = load_config(
            SFTConfig,
            "sft-tiny",
            [
                f"run_dir={args.out / 'sft'}",
                f"data.synthetic.families={args.families}",
                f"train.steps={steps[-1]}",
                "checkpoint.every=1000000",
                "checkpoint.keep=1",
                "logging.progress=false",
                "logging.tensorboard=false",
                *(["resume=true"] if index else []),
                *args.overrides,
            ],
        )
        trainer = SFTTrainer(config)
        start = time.perf_counter()
        final = trainer.fit(stop_at=step)
        accuracy = held_out_accuracy(final, args.families, args.eval_size, args.out / f"eval-{step}")
        rows.append({"step": step, "acc": accuracy, "seconds": time.perf_counter() - start})
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "curve.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
