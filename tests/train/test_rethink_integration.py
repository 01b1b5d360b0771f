"""Forced rethinking on the tiny model: rethinks are forced, accepted ones replace originals and get the SFT loss."""

from __future__ import annotations

import json
from pathlib import Path

from rethinker.train.grpo import GRPOTrainer


def test_stage2_forces_rethinks_and_trains_on_accepted_ones(
    tmp_path: Path, tiny_config, parity_reward, eos_prone_dir
) -> None:
    config = tiny_config(
        tmp_path,
        f"model.path={eos_prone_dir}",
        "train.steps=3",
        "rollout.max_new_tokens=16",
        "rethink.enabled=true",
        "rethink.fraction=1.0",
        "rethink.min_new_tokens=0",
        "rethink.max_new_tokens=8",
        "prompt.template=rethink",
        "optim.lr=1e-5",
    )
    trainer = GRPOTrainer(config)
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["rethink/forced_frac"] > 0 and rows[0]["rethink/attempted"] > 0
    trained = [row for row in rows if row["rethink/accepted"] > 0]
    assert trained, "no rethink was accepted in three steps"
    assert all(row["loss/sft"] > 0 and row["rethink/acc_after"] > row["rethink/acc_before"] for row in trained)
    untouched = [row for row in rows if row["rethink/accepted"] == 0]
    assert all(row["loss/sft"] == 0 for row in untouched)
