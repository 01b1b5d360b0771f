"""GPU readiness check: vLLM and HF rollouts, their log-prob agreement and speed, and one bf16 FSDP2 step, in one JSON.

On a CUDA machine it runs every step; without CUDA the GPU-only steps are recorded as skipped and the rest run on the
CPU (`--dry-run` runs nothing and records the plan). Usage, from the repository root:
    python benchmarks/gpu_check/run.py [--steps 3] [--out benchmarks/gpu_check/results/check.json] [--dry-run]
(`bash benchmarks/gpu_check/run.sh` installs the vllm extra first on a CUDA machine.)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rethinker.jsonl import read_jsonl

PRESET = "vl-rethinker-stage1-tiny"
TAIL_CHARS = 4000


@dataclass(frozen=True)
class Check:
    """One command of the check and what it needs to run."""

    name: str
    argv: list[str]
    run_dir: Path
    needs_cuda: bool = False


@dataclass
class Outcome:
    """What one check did: its status, time, exit code, output tail and the metrics read from its run."""

    name: str
    command: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    output_tail: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def cuda_devices() -> int:
    """How many CUDA devices this machine has (0 without an NVIDIA driver)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines()) if listing.returncode == 0 else 0


def plan(work: Path, steps: int, gpus: int) -> list[Check]:
    """The checks in order: HF-engine steps, vLLM-engine steps, a bf16 FSDP2 step under torchrun (2 ranks on 2 GPUs)."""
    rethinker = str(Path(sys.executable).with_name("rethinker"))
    dtype = "model.dtype=bfloat16" if gpus else "model.dtype=float32"
    common = [f"train.steps={steps}", "eval.every=0", "eval.at_start=false", "checkpoint.every=0", dtype]
    one_update_per_episode = "train.update_batch_size=256"  # 32 queries x 8: every step rolls out, so each is timed
    checks = [
        Check(
            "train_hf",
            [
                rethinker,
                "train",
                PRESET,
                "rollout.engine=hf",
                f"run_dir={work / 'hf'}",
                one_update_per_episode,
                *common,
            ],
            work / "hf",
        ),
        Check(
            "train_vllm",
            [
                rethinker,
                "train",
                PRESET,
                "rollout.engine=vllm",
                f"run_dir={work / 'vllm'}",
                one_update_per_episode,
                *common,
            ],
            work / "vllm",
            needs_cuda=True,
        ),
    ]
    ranks = max(min(gpus, 2), 1)
    fsdp_dir = work / "fsdp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    fsdp_argv = [*torchrun, "-m", "rethinker.cli", "train", "tiny", "train.steps=1", f"run_dir={fsdp_dir}", *common[1:]]
    checks.append(Check("fsdp2_bf16_torchrun", fsdp_argv, fsdp_dir, needs_cuda=True))
    return checks


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's metrics.jsonl (empty when the run wrote none)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return read_jsonl(path)


def rollout_summary(rows: list[dict[str, float]]) -> dict[str, float]:
    """Rollout tokens/s (median over steps after the first) and the engine-vs-trainer log-prob gap, where logged."""
    summary: dict[str, float] = {}
    rates, previous = [], 0.0
    for row in rows:
        total = row.get("rollout/samples_total")
        if total is None or "time/generate_s" not in row:
            continue
        samples, previous = total - previous, total
        if samples > 0 and row["time/generate_s"] > 0:
            rates.append(samples * row.get("response/len_mean", 0.0) / row["time/generate_s"])
    if rates:
        summary["tokens_per_s"] = statistics.median(rates[1:] or rates)
    for key in ("rollout/logprob_gap_mean", "rollout/logprob_gap_max"):
        values = [row[key] for row in rows if key in row]
        if values:
            summary[key] = max(values) if key.endswith("max") else statistics.fmean(values)
    if rows and "loss/total" in rows[-1]:
        summary["final_loss"] = rows[-1]["loss/total"]
    return summary


def skip_reason(check: Check, gpus: int, dry_run: bool) -> str:
    """Why a check cannot run here, or '' when it can."""
    if dry_run:
        return "dry run"
    return "needs CUDA" if check.needs_cuda and gpus == 0 else ""


def run_check(check: Check, gpus: int, dry_run: bool, timeout: float) -> Outcome:
    """Run one check (or record why it was skipped) and read the metrics of its run."""
    outcome = Outcome(check.name, " ".join(check.argv), "planned")
    reason = skip_reason(check, gpus, dry_run)
    if reason:
        outcome.status, outcome.reason = ("planned" if dry_run else "skipped"), reason
        return outcome
    started = time.perf_counter()
    try:
        done = subprocess.run(check.argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        outcome.returncode, output = done.returncode, done.stdout + done.stderr
        outcome.status = "ok" if done.returncode == 0 else "failed"
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) else ""
        outcome.status, outcome.reason = "failed", f"timed out after {timeout:.0f} s"
    outcome.seconds = round(time.perf_counter() - started, 2)
    outcome.output_tail = output[-TAIL_CHARS:]
    outcome.metrics = rollout_summary(read_metrics(check.run_dir))
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run the checks and write the JSON report; exit 1 when a check that could run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="training steps per engine (first one is warm-up)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "check.json")
    parser.add_argument("--work", type=Path, default=None, help="run directories (default: next to --out)")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds allowed to each check")
    parser.add_argument("--dry-run", action="store_true", help="record the plan without running anything")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    gpus = cuda_devices()
    work = args.work or args.out.parent / "runs"
    if work.exists() and not args.dry_run:
        shutil.rmtree(work)
    outcomes = [run_check(check, gpus, args.dry_run, args.timeout) for check in plan(work, args.steps, gpus)]
    by_name = {o.name: o.metrics for o in outcomes}
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "cuda_devices": gpus,
        "dry_run": args.dry_run,
        "checks": [asdict(o) for o in outcomes],
        "hf_tokens_per_s": by_name["train_hf"].get("tokens_per_s"),
        "vllm_tokens_per_s": by_name["train_vllm"].get("tokens_per_s"),
        "vllm_logprob_gap_mean": by_name["train_vllm"].get("rollout/logprob_gap_mean"),
        "vllm_logprob_gap_max": by_name["train_vllm"].get("rollout/logprob_gap_max"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for outcome in outcomes:
        print(f"{outcome.name}: {outcome.status} {outcome.reason} {outcome.metrics}".rstrip())
    print(f"report written to {args.out}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
