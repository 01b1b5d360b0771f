"""`rethinker report` on a real (short) training run: the figures exist, are valid PNGs and plot the run's series."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from rethinker.cli import main
from rethinker.train.grpo import GRPOTrainer


def test_report_of_a_real_run(tmp_path: Path, tiny_config) -> None:
    run_dir = tmp_path / "run"
    GRPOTrainer(tiny_config(run_dir, "train.steps=2", "eval.at_start=true", "eval.every=1", "replay.mode=ssr")).fit()
    assert main(["report", str(run_dir)]) == 0
    report = json.loads((run_dir / "report" / "report.json").read_text())
    for name in ("reward.png", "groups.png", "length.png", "replay.png"):
        with Image.open(run_dir / "report" / name) as image:
            assert image.format == "PNG" and image.width > 200 and image.height > 100
    plotted = {(s["key"], s["points"]) for series in report["figures"].values() for s in series["series"]}
    assert {("reward/mean", 2), ("eval/acc", 3), ("groups/effective_frac", 2), ("batch/replay_frac", 2)} <= plotted
    assert report["runs"][0]["steps"] == 2
