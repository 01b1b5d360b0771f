"""Fabricated training run directories shaped like those `rethinker train` writes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

GROUP_KEYS = ("groups/effective_frac", "groups/all_correct_frac", "groups/all_wrong_frac")
BUCKETS = ("all_false", "hard", "medium", "easy", "all_true")


def training_row(step: int, steps: int, rng: random.Random, rethink: bool, replay: bool) -> dict[str, Any]:
    """One step's metrics for a run whose accuracy climbs and whose effective share of groups falls."""
    progress = step / steps
    all_correct = 0.1 + 0.5 * progress + rng.uniform(-0.02, 0.02)
    all_wrong = 0.4 - 0.3 * progress + rng.uniform(-0.02, 0.02)
    effective = 1 - all_correct - all_wrong
    buckets = [all_wrong, 0.3 * effective, 0.4 * effective, 0.3 * effective, all_correct]
    row: dict[str, Any] = {
        "step": step,
        "reward/mean": 0.3 + 0.4 * progress + rng.uniform(-0.05, 0.05),
        "acc/mean": 0.3 + 0.4 * progress,
        "groups/effective_frac": effective,
        "groups/all_correct_frac": all_correct,
        "groups/all_wrong_frac": all_wrong,
        **{f"groups/bucket_{name}": share for name, share in zip(BUCKETS, buckets, strict=True)},
        "batch/size": 64.0,
        "adv/abs_mean": 0.8,
        "response/len_mean": 300 + 200 * progress + rng.uniform(-10, 10),
        "loss/policy": rng.uniform(-0.1, 0.1),
        "time/rollout_s": 3.0 + rng.uniform(0, 1),
        "time/reward_s": 0.2,
        "time/update_s": 1.5,
        "stage/index": 0.0,
    }
    row["time/step_s"] = row["time/rollout_s"] + row["time/reward_s"] + row["time/update_s"]
    if rethink:
        row.update(
            {
                "rethink/forced_frac": 0.6,
                "rethink/accepted_frac": 0.2 + 0.1 * progress,
                "rethink/acc_before": 0.4 + 0.3 * progress,
                "rethink/acc_after": 0.45 + 0.3 * progress,
                "rethink/spontaneous_frac": 0.05 * progress,
                "loss/sft": 1.2 - 0.5 * progress,
            }
        )
    if replay:
        row.update({"batch/effective_frac": 1 - 0.5 * progress, "batch/replay_frac": 0.5 * progress})
        row["replay/buffer_size"] = float(10 * step)
    return row


def write_run(
    run_dir: Path,
    steps: int = 20,
    eval_every: int = 5,
    seed: int = 0,
    rethink: bool = False,
    replay: bool = False,
) -> list[dict[str, Any]]:
    """Write `metrics.jsonl` (step 0 = pre-training evaluation), a config and samples; returns the rows written."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"train:\n  steps: {steps}\n")
    (run_dir / "checkpoints").mkdir()
    rows: list[dict[str, Any]] = [{"step": 0, "data/train_examples": 100.0, "eval/acc": 0.25 + 0.01 * seed}]
    for step in range(1, steps + 1):
        row = training_row(step, steps, rng, rethink, replay)
        if step % eval_every == 0 or step == steps:
            row["eval/acc"] = round(rng.uniform(0.3, 0.6), 4)
        rows.append(row)
    with (run_dir / "metrics.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    for step in (0, steps):
        write_samples(run_dir / "samples" / f"step-{step}.jsonl", step)
    return rows


def write_samples(path: Path, step: int, count: int = 4) -> None:
    """A samples file as the trainer's evaluation writes it (image paths relative to the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for index in range(count):
            record = {
                "id": f"q{index}",
                "images": [f"images/q{index}-0.png"],
                "question": f"How many dots are in the image? (step {step}, question {index})",
                "gold": str(index + 2),
                "response": f"I count the dots one by one.\n\\boxed{{{index + 2}}} at step {step}",
                "reward": float(index % 2),
            }
            f.write(json.dumps(record) + "\n")


def finite(values: list[Any]) -> list[float]:
    """The finite numbers among `values` (what a report is expected to use)."""
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
