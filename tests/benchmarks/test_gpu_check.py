"""The GPU readiness check's CPU-runnable parts: its plan, the JSON it writes, and how it reads a run's metrics."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check" / "run.py"
_spec = importlib.util.spec_from_file_location("gpu_check_run", SCRIPT)
gpu_check = sys.modules["gpu_check_run"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    """The script as a user runs it from the repository root."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_dry_run_records_every_check_with_its_command(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    assert run_check("--dry-run", "--steps", "4", "--out", str(out)).returncode == 0
    report = json.loads(out.read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {"train_hf", "train_vllm", "fsdp2_bf16_torchrun"}
    assert all(c["status"] == "planned" for c in checks.values())
    assert "rollout.engine=vllm" in checks["train_vllm"]["command"]
    assert "train.steps=4" in checks["train_hf"]["command"]
    assert "torch.distributed.run" in checks["fsdp2_bf16_torchrun"]["command"]
    assert not (tmp_path / "runs").exists()


def test_cpu_run_times_the_hf_engine_and_skips_what_needs_cuda(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    done = run_check("--steps", "2", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["train_hf"]["status"] == "ok"
    assert report["hf_tokens_per_s"] > 0
    for name in ("train_vllm", "fsdp2_bf16_torchrun"):
        assert (checks[name]["status"], checks[name]["reason"]) == ("skipped", "needs CUDA")
    assert report["vllm_tokens_per_s"] is None


def test_bad_step_count_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_check("--steps", "0", "--out", str(tmp_path / "c.json"))
    assert done.returncode == 2 and "--steps must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_summary_counts_only_steps_that_rolled_out_and_reads_the_logprob_gap() -> None:
    rows = [
        {"rollout/samples_total": 100.0, "time/generate_s": 1.0, "response/len_mean": 10.0},
        {
            "rollout/samples_total": 200.0,
            "time/generate_s": 2.0,
            "response/len_mean": 10.0,
            "rollout/logprob_gap_max": 0.3,
        },
        {
            "rollout/samples_total": 200.0,
            "time/generate_s": 0.5,
            "response/len_mean": 10.0,
            "rollout/logprob_gap_max": 0.1,
        },
        {
            "rollout/samples_total": 300.0,
            "time/generate_s": 0.25,
            "response/len_mean": 5.0,
            "rollout/logprob_gap_mean": 0.02,
        },
    ]
    summary = gpu_check.rollout_summary(rows)
    assert summary["tokens_per_s"] == pytest.approx((500.0 + 2000.0) / 2)
    assert summary["rollout/logprob_gap_max"] == 0.3
    assert summary["rollout/logprob_gap_mean"] == pytest.approx(0.02)
