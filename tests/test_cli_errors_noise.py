"""What the console commands print besides results: no per-request HTTP lines, no panels or rows for features that
were off, and an SFT report that shows its losses. (Progress bars per rank, `acc=nan` and transformers' rename notice
are read in `tests/curation/test_round_trip.py`, whose commands generate.)"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rethinker.telemetry import is_main_process, progress_bar, progress_fields
from tests.coldstart.conftest import ScriptedChatServer, coldstart_config, save_config, write_vqa
from tests.report.runs import write_run

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_coldstart_does_not_log_each_http_request(tmp_path: Path, rethinker_cli: Cli) -> None:
    server = ScriptedChatServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        vqa = write_vqa(tmp_path, ["One?", "Two?"])
        config = save_config(tmp_path / "c.yaml", coldstart_config(vqa, tmp_path / "out", server.url))
        result = rethinker_cli("coldstart", str(config))
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(server.requests) >= 6, "three stages per record went over HTTP"
    assert "HTTP Request" not in result.stderr and "httpx" not in result.stderr


def test_report_leaves_out_features_that_were_off(tmp_path: Path, rethinker_cli: Cli) -> None:
    run = tmp_path / "run"
    rows = write_run(run, steps=6)
    off = {"loss/kl": 0.0, "loss/sft": 0.0, "replay/buffer_size": 0.0, "batch/replay_frac": 0.0}
    (run / "metrics.jsonl").write_text("".join(json.dumps({**row, **off}) + "\n" for row in rows))
    result = rethinker_cli("report", str(run), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    left_out = "left out as features that were off (all zero): batch/replay_frac, replay/buffer_size, loss/kl, loss/sft"
    assert left_out in result.stdout
    figures = json.loads((tmp_path / "out" / "report.json").read_text())["figures"]
    assert "replay.png" not in figures and not (tmp_path / "out" / "replay.png").exists()
    assert [line["key"] for line in figures["loss.png"]["series"]] == ["loss/policy"]
    assert "SFT loss" not in (tmp_path / "out" / "report.md").read_text()


def test_sft_report_shows_losses_not_dashes(tmp_path: Path, rethinker_cli: Cli) -> None:
    run = tmp_path / "sft"
    run.mkdir()
    rows = [{"step": 0, "eval/loss": 2.5}]
    rows += [{"step": step, "loss/sft": 3.0 - 0.2 * step, "lr": 1e-3, "time/step_s": 0.5} for step in range(1, 11)]
    rows[-1]["eval/loss"] = 1.25
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = rethinker_cli("report", str(run), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| SFT loss, first 10% of steps | 2.800 |" in text and "| SFT loss, last 10% of steps | 1.000 |" in text
    assert "| final held-out loss | 1.250 at step 10 |" in text and "| held-out loss at start | 2.500 |" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "metric" not in line and "---" not in line]
    assert all(" - |" not in line for line in table), table


def test_wandb_that_cannot_start_is_one_line(
    tmp_path: Path, rethinker_cli: Cli, user_error: Callable[..., None]
) -> None:
    fake = tmp_path / "fake" / "wandb"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "def init(**kwargs):\n    raise BrokenPipeError(32, 'Broken pipe')\n\n\n"
        "def teardown():\n    print('wandb teardown called')\n"
    )
    path = os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")]))
    run = [f"run_dir={tmp_path / 'run'}", "train.steps=1", "logging.wandb=true", "logging.tensorboard=false"]
    result = rethinker_cli("train", "tiny", *run, "eval.at_start=false", PYTHONPATH=path)
    user_error(result, "W&B could not start (BrokenPipeError", "wandb login", "WANDB_MODE=offline", "wandb=false")
    assert "wandb teardown called" in result.stdout, "a half-started W&B is shut down, not left to fail at exit"


def test_progress_shows_only_finite_metrics_this_step_has() -> None:
    fields = {"reward": "reward/mean", "acc": "eval/acc"}
    assert progress_fields({"reward/mean": 0.5}, fields) == {"reward": "0.50"}
    assert progress_fields({"reward/mean": float("nan"), "eval/acc": 0.25}, fields) == {"acc": "0.25"}


def test_only_rank_zero_is_the_main_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process() and progress_bar(3, 0, True, "x").disable
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()
    monkeypatch.delenv("RANK")
    assert is_main_process()
