"""annotate -> select -> train through the console: `rethinker passrate` output feeds `rethinker train` elsewhere.

The data uses relative image paths and MATH-V style numbered markers (`<image1>`, and questions naming panels
`<image2>`... of their one picture); the model is a run's `checkpoints/step-7` save, so the default column name must
say which run it came from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

Cli = Callable[..., subprocess.CompletedProcess[str]]
QUERIES = 10
COLUMN = "PassRate_warm-step-7"


def write_data(folder: Path) -> Path:
    """Ten queries whose images sit in `imgs/` beside the file; every third names panels <image2>, <image3>."""
    (folder / "imgs").mkdir(parents=True)
    rows = []
    for index in range(QUERIES):
        Image.new("RGB", (28, 28), (index * 20, 90, 160)).save(folder / "imgs" / f"{index}.png")
        panels = " Compare <image2> with <image3>, then <image1> again." if index % 3 == 0 else ""
        question = f"<image1> How many dots?{panels}"
        image = f"imgs/{index}.png"
        rows.append({"id": f"q{index}", "question": question, "answer": str(index % 4), "images": [image]})
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_annotate_select_train_round_trip(
    tmp_path: Path, tiny_dir: Path, parity_reward: str, rethinker_cli: Cli
) -> None:
    data = write_data(tmp_path / "data")
    model = tmp_path / "runs" / "warm" / "checkpoints" / "step-7"
    shutil.copytree(tiny_dir, model)
    out = tmp_path / "annotated" / "train.jsonl"
    annotate = [
        "passrate", "--model", str(model), "--data", str(data), "--out", str(out), "--samples", "2",
        "--batch-queries", "4", "--max-new-tokens", "4", "--reward", f"{parity_reward}:score",
    ]  # fmt: skip

    quiet = rethinker_cli(*annotate, RANK="1")
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "passrate:" not in quiet.stderr, "only rank 0 shows a progress bar"
    assert "past_key_values" not in quiet.stderr
    assert f"{COLUMN} for {QUERIES} queries" in quiet.stdout and "nan" not in quiet.stdout

    resumed = rethinker_cli(*annotate)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "passrate: 100%" in resumed.stderr, "rank 0 shows the bar"
    assert f"{QUERIES} resumed" in resumed.stdout

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"q{i}" for i in range(QUERIES)]
    for row in rows:
        assert (out.parent / row["images"][0]).is_file(), "image paths resolve from the annotated file's folder"
        assert row[f"{COLUMN}_samples"] == 2

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    train = rethinker_cli(
        "train", "tiny", "run_dir=run", f"model.path={model}", "data.source=file", f"data.path={out}",
        f"data.passrate_column={COLUMN}", "data.passrate_interval='[0, 1]'", "train.steps=2",
        "train.queries_per_episode=4", "rollout.group_size=2", "rollout.max_new_tokens=4", "eval.every=0",
        "eval.at_start=false", "checkpoint.every=0", "logging.tensorboard=false", f"reward.fn={parity_reward}:score",
        cwd=elsewhere,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    metrics = [json.loads(line) for line in (elsewhere / "run" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["data/selection_kept"] == QUERIES
    assert "reward=" in train.stderr and "acc=nan" not in train.stderr, "no held-out accuracy shown before one exists"
    assert train.stdout.count("final checkpoint:") == 1
    assert "past_key_values" not in train.stderr
