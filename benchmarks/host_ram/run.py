"""Peak host RAM over one training episode (rollout + update) against the number of queries per episode.

Each setting runs `rethinker train`'s trainer on the packaged tiny model in its own process, with synthetic images of
`--image-size` pixels a side processed at `model.max_pixels` (default 1003520 = 1280 * 28 * 28, a common RL bound: one
image becomes 4900 patches, a 22 MiB pixel tensor). A thread samples the resident set size (RSS) every few milliseconds;
the baseline is the RSS once the trainer is built, so the growth over it is what the episode itself holds. The slope of
that growth against the number of samples, next to the bytes the samples themselves hold and the bytes of one image's
pixels, says whether pixel tensors pile up over the episode. Children run with a fixed glibc mmap threshold, so
tensors freed after the rollout leave the RSS instead of lingering in the heap and blurring the update phase.

    OMP_NUM_THREADS=1 python benchmarks/host_ram/run.py --queries 4 16 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from rethinker.config import RLConfig, load_config
from rethinker.models.prompt_bank import tensor_bytes
from rethinker.train.grpo import GRPOTrainer
from rethinker.train.samples import Sample

MIB = 1024 * 1024
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
RESULTS = Path(__file__).parent / "results"
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(4 * MIB)}
"""A fixed mmap threshold makes glibc return freed tensors to the system, so RSS follows live memory, not leftovers."""


def current_rss() -> int:
    """This process's resident set size in bytes, read from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


class RssSampler:
    """Samples RSS on a thread and keeps the peak seen during each named phase."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.phase = "setup"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = current_rss()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            time.sleep(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def samples_bytes(samples: list[Sample]) -> int:
    """Bytes held by the samples' tensors, each storage counted once (a group shares its prompt ids)."""
    storages: dict[int, int] = {}
    for sample in samples:
        for tensor in (sample.prompt_ids, sample.response_ids, sample.old_logprobs):
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def episode_config(args: argparse.Namespace, run_dir: str) -> RLConfig:
    """The tiny preset with large images and a short, single-update episode of `args.child` queries."""
    overrides = [
        f"run_dir={run_dir}",
        f"model.max_pixels={args.max_pixels}",
        f"data.synthetic.train_size={args.train_size}",
        "data.synthetic.eval_size=1",
        f"data.synthetic.image_size={args.image_size}",
        "prompt.max_prompt_tokens=4096",
        f"train.queries_per_episode={args.child}",
        "train.steps=1",
        f"train.micro_batch_size={args.group_size}",
        f"rollout.group_size={args.group_size}",
        f"rollout.batch_size={args.group_size}",
        f"rollout.max_new_tokens={args.max_new_tokens}",
        "eval.size=0",
        "eval.at_start=false",
        "checkpoint.every=0",
        "logging.progress=false",
        "logging.tensorboard=false",
    ]
    return load_config(RLConfig, "tiny", overrides)


def measure_episode(args: argparse.Namespace) -> dict[str, float]:
    """Build the trainer, then roll out and update once, sampling RSS per phase; returns the figures."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as run_dir, RssSampler() as sampler:
        trainer = GRPOTrainer(episode_config(args, run_dir))
        time.sleep(0.05)
        baseline = current_rss()
        sampler.phase = "rollout"
        start = time.perf_counter()
        trainer.new_episode()
        rollout_s = time.perf_counter() - start
        samples = [s for batch in trainer.pending for s in batch.samples]
        held = samples_bytes(samples)
        sampler.phase = "update"
        start = time.perf_counter()
        trainer.train_step()
        update_s = time.perf_counter() - start
        time.sleep(0.05)
        bank = trainer.train_bank.metrics()
        pixel_bytes = tensor_bytes(trainer.train_bank.get(0).pixel_values)
        trainer.verifier.close()
    return {
        "queries": args.child,
        "samples": len(samples),
        "baseline_mib": baseline / MIB,
        "rollout_peak_mib": sampler.peaks["rollout"] / MIB,
        "update_peak_mib": sampler.peaks["update"] / MIB,
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB,
        "samples_mib": held / MIB,
        "pixel_tensor_mib_per_image": pixel_bytes / MIB,
        "rollout_s": rollout_s,
        "update_s": update_s,
        **bank,
    }


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs."""
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Growth over the baseline per sample and phase, over all settings and the largest two (past the cache filling)."""
    samples = [row["samples"] for row in rows]
    out = {"pixel_tensor_mib_per_image": rows[0]["pixel_tensor_mib_per_image"]}
    for phase in ("rollout", "update"):
        growth = [row[f"{phase}_peak_mib"] - row["baseline_mib"] for row in rows]
        out[f"{phase}_growth_mib_per_sample"] = slope(samples, growth)
        out[f"{phase}_growth_mib_per_sample_largest_two"] = slope(samples[-2:], growth[-2:])
    out["samples_mib_per_sample"] = slope(samples, [row["samples_mib"] for row in rows])
    return out


def table(rows: list[dict[str, float]]) -> str:
    """The measurements as a Markdown table."""
    lines = [
        "| queries | samples | baseline MiB | rollout peak - base | update peak - base | samples MiB "
        "| pixel misses / hits | pixel cache MiB | rollout s | update s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = row["baseline_mib"]
        lines.append(
            f"| {row['queries']} | {row['samples']} | {base:.0f} | {row['rollout_peak_mib'] - base:.0f} "
            f"| {row['update_peak_mib'] - base:.0f} | {row['samples_mib']:.2f} "
            f"| {row['prompts/pixel_misses']:.0f} / {row['prompts/pixel_hits']:.0f} "
            f"| {row['prompts/pixel_bytes_held'] / MIB:.0f} | {row['rollout_s']:.1f} | {row['update_s']:.1f} |"
        )
    return "\n".join(lines)


def child_command(args: argparse.Namespace, queries: int) -> list[str]:
    """The command measuring one setting in a fresh process."""
    return [
        sys.executable,
        __file__,
        f"--child={queries}",
        f"--train-size={max(args.queries)}",
        f"--image-size={args.image_size}",
        f"--max-pixels={args.max_pixels}",
        f"--group-size={args.group_size}",
        f"--max-new-tokens={args.max_new_tokens}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--image-size", type=int, default=1000)
    parser.add_argument("--max-pixels", type=int, default=1003520)
    parser.add_argument("--group-size", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_episode(args)), flush=True)
        return
    rows = []
    for queries in args.queries:
        done = subprocess.run(
            child_command(args, queries), check=True, stdout=subprocess.PIPE, text=True, env=CHILD_ENV
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows)
    print(table(rows))
    print(json.dumps(summary, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    record = {"date": stamp.isoformat(timespec="seconds"), "settings": vars(args), "rows": rows, "summary": summary}
    (RESULTS / f"{stamp:%Y-%m-%d-%H%M}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
