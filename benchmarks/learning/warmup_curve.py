"""Greedy held-out accuracy along the tiny model's supervised warm-up (the `sft-tiny` recipe), every N steps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rethinker.config import load_config
from rethinker.data.synthetic import make_synthetic
from rethinker.models.prompt_bank import PromptBank
from rethinker.rewards.verify import Verifier
from rethinker.sft_config import SFTConfig
from rethinker.train.sft import SFTTrainer
from rethinker.train.warmup import greedy_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=450)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the sft-tiny preset")
    args = parser.parse_args()
    base = [f"run_dir={args.out}", f"train.steps={args.steps}", "checkpoint.every=0", "eval.every=0"]
    trainer = SFTTrainer(load_config(SFTConfig, "sft-tiny", [*base, "logging.progress=false", *args.overrides]))
    held_out = make_synthetic(200, trainer.config.seed, "eval", ("count",))
    bank = PromptBank(trainer.processor, held_out, "default", None, 512)
    curve = []
    with Verifier() as verifier:
        for step in range(1, args.steps + 1):
            trainer.train_step()
            if step % args.every == 0:
                accuracy = greedy_accuracy(trainer.model, trainer.processor, bank, verifier)
                curve.append({"step": step, "acc": accuracy})
                print(json.dumps(curve[-1]), flush=True)
    (args.out / "warmup_curve.json").write_text(json.dumps(curve, indent=2))


if __name__ == "__main__":
    main()
