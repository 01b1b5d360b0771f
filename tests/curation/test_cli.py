"""End to end on the tiny model: annotate, kill and resume, train on the selection, and the ViRL39K layout."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rethinker.cli import main as rethinker_main
from rethinker.config import DataConfig, RLConfig, load_config
from rethinker.curation.passrate import partial_path
from rethinker.data.virl39k import load_virl39k
from rethinker.train.datasets import build_datasets

PARITY = str(Path(__file__).parents[1] / "train" / "parity_reward.py") + ":score"
"""A reward with spread on a random model (odd response length), so pass rates are not all 0."""
COLUMN = "PassRate_tiny"
SAMPLES = 4
SYNTHETIC = ["--format", "synthetic", "--limit", "6", "--samples", str(SAMPLES), "--max-new-tokens", "8"]
COMMON = ["--name", "tiny", "--batch-queries", "2", "--reward", PARITY, "--no-progress"]


def main(args: list[str]) -> int:
    """`rethinker passrate ARGS` in this process."""
    return rethinker_main(["passrate", *args])


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def result_lines(out: Path) -> list[str]:
    side = partial_path(out)
    return side.read_text().splitlines()[1:] if side.exists() else []


@pytest.fixture(scope="module")
def reference(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted annotation of 6 synthetic queries, k=4."""
    out = tmp_path_factory.mktemp("reference") / "ann.jsonl"
    assert main(["--model", str(tiny_dir), *COMMON, *SYNTHETIC, "--out", str(out)]) == 0
    return out


def test_pass_rates_are_multiples_of_one_over_k_and_match_the_counts(reference: Path) -> None:
    annotated = rows(reference)
    assert [row["id"] for row in annotated] == [f"synthetic-train-0-{i}" for i in range(6)]
    for row in annotated:
        assert row[f"{COLUMN}_samples"] == SAMPLES
        assert row[COLUMN] == row[f"{COLUMN}_correct"] / SAMPLES
        assert (row[COLUMN] * SAMPLES).is_integer()
        assert (reference.parent / row["images"][0]).is_file()
    assert len({row[COLUMN] for row in annotated}) > 1


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_file(reference: Path, tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ann.jsonl"
    args = ["--model", str(tiny_dir), *COMMON, *SYNTHETIC, "--out", str(out)]
    command = [sys.executable, "-m", "rethinker.cli", "passrate", *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 300
    while len(result_lines(out)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = result_lines(out)
    assert 2 <= len(before) < 6, "the run should be killed part way"
    assert not out.exists()
    with partial_path(out).open("a") as handle:
        handle.write('{"id": "synthetic-train-0-')

    assert main(args) == 0

    after = result_lines(out)
    assert after[: len(before)] == before
    ids = [json.loads(line)["id"] for line in after]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 6
    assert out.read_bytes() == reference.read_bytes()


def test_a_rerun_over_a_finished_side_file_rolls_out_nothing(
    reference: Path, tiny_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["--model", str(tiny_dir), *COMMON, *SYNTHETIC, "--out", str(reference)]
    assert main(args) == 0
    assert "0 rolled out now, 6 resumed" in capsys.readouterr().out
    assert main([*args, "--samples", "2"]) == 2


def test_training_on_the_selection_logs_what_the_rule_kept(reference: Path, tiny_dir: Path, tmp_path: Path) -> None:
    from rethinker.train.grpo import GRPOTrainer

    rates = [row[COLUMN] for row in rows(reference)]
    overrides = [
        f"run_dir={tmp_path / 'run'}",
        f"model.path={tiny_dir}",
        "data.source=file",
        f"data.path={reference}",
        f"data.eval_path={reference}",
        f"data.passrate_column={COLUMN}",
        "data.passrate_interval=(0, 1]",
        "eval.size=1",
        "eval.at_start=true",
        "eval.every=0",
        "eval.max_new_tokens=4",
        "train.steps=1",
        "train.queries_per_episode=2",
        "rollout.group_size=2",
        "rollout.max_new_tokens=4",
        "checkpoint.every=0",
        "logging.progress=false",
        "logging.tensorboard=false",
    ]
    trainer = GRPOTrainer(load_config(RLConfig, "tiny", overrides))
    assert {example.metadata[COLUMN] for example in trainer.train_bank.examples} <= {r for r in rates if 0 < r <= 1}
    trainer.fit()
    logged = rows(tmp_path / "run" / "metrics.jsonl")
    start = next(row for row in logged if row["step"] == 0)
    assert start["data/selection_kept"] == sum(0 < r <= 1 for r in rates) == len(trainer.train_bank)
    assert start["data/selection_dropped_below"] == sum(r == 0 for r in rates)
    assert start["data/selection_dropped_above"] == 0
    assert any(row["step"] == 1 for row in logged)


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (28, 28), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def virl_release(tmp_path: Path) -> Path:
    """A ViRL39K-style release folder: `39Krelease.parquet` and `images/`, pass rates in eighths."""
    root = tmp_path / "virl"
    (root / "images").mkdir(parents=True)
    rates_7b = [0.0, 0.125, 0.5, 1.0, 0.875, None]
    rates_32b = [0.25, 0.0, 1.0, 0.625, 0.375, 0.5]
    table = []
    for index, (rate_7b, rate_32b) in enumerate(zip(rates_7b, rates_32b, strict=True)):
        (root / "images" / f"q{index}.png").write_bytes(png((40 * index, 90, 200)))
        table.append(
            {
                "qid": f"q{index}",
                "question": f"<image>\nHow many dots are there in picture {index}?",
                "answer": f"\\boxed{{{index}}}",
                "image": [f"images/q{index}.png"],
                "category": ["(GradeSchool) Counting", "(Tables) Reading"][index % 2],
                "source": "fixture",
                "PassRate_7BBase": rate_7b,
                "PassRate_32BTrained": rate_32b,
            }
        )
    pq.write_table(pa.Table.from_pylist(table), root / "39Krelease.parquet")
    return root


def test_selecting_by_an_existing_virl39k_column(virl_release: Path) -> None:
    config = DataConfig(
        source="virl39k", path=str(virl_release), passrate_column="PassRate_7BBase", passrate_interval="(0, 1)"
    )
    train, _, counts = build_datasets(config, seed=0)
    assert [example.id for example in train] == ["q1", "q2", "q4"]
    assert counts["data/selection_kept"] == 3
    assert counts["data/selection_dropped_below"] == 1
    assert counts["data/selection_dropped_above"] == 1
    assert counts["data/selection_dropped_missing"] == 1


def test_annotating_virl39k_keeps_its_columns_and_adds_ours(virl_release: Path, tiny_dir: Path) -> None:
    out = virl_release / "annotated.parquet"
    args = [
        "--model",
        str(tiny_dir),
        "--data",
        str(virl_release),
        "--samples",
        "2",
        "--max-new-tokens",
        "4",
        "--no-progress",
    ]
    assert main([*args, "--out", str(out)]) == 0
    source, annotated = pq.read_table(virl_release / "39Krelease.parquet"), pq.read_table(out)
    column = f"PassRate_{tiny_dir.name}"
    assert annotated.column_names == [*source.column_names, column, f"{column}_correct", f"{column}_samples"]
    assert annotated.select(source.column_names).equals(source)
    assert set(annotated.column(f"{column}_samples").to_pylist()) == {2}
    examples = load_virl39k(virl_release, file_name=out.name).examples
    assert all(example.metadata[column] in (0.0, 0.5, 1.0) for example in examples)


def test_an_over_long_prompt_is_skipped_and_counted(
    tmp_path: Path, tiny_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "in.jsonl"
    questions = ["What is 1+1?", "word " * 400, "What is 2+2?"]
    data.write_text("".join(json.dumps({"question": q, "answer": "2", "images": []}) + "\n" for q in questions))
    out = tmp_path / "out.jsonl"
    args = ["--model", str(tiny_dir), "--data", str(data), "--samples", "2", "--max-new-tokens", "4", "--no-progress"]
    assert main([*args, "--max-prompt-tokens", "128", "--name", "m", "--out", str(out)]) == 0
    annotated = rows(out)
    assert [row["PassRate_m_samples"] for row in annotated] == [2, 0, 2]
    assert annotated[1]["PassRate_m"] is None
    assert [row["question"] for row in annotated] == questions
    assert "1 skipped as too long" in capsys.readouterr().out
