"""One piece of the paper-effects benchmark per call, each writing one JSON file (the driver skips pieces whose JSON
exists): the supervised curve from an imperfect teacher, RL from its plateau, a replay-mode run, a rethinking run, and
the rethinking probes of a supervised start."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from rethinker.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
QUIET = ["logging.progress=false", "logging.tensorboard=false"]
SAMPLES_PER_ITEM = 4
"""Responses sampled per held-out item (temperature 1) to measure spontaneous rethinking beyond the greedy answer."""


def load_script(relative: str) -> ModuleType:
    """A benchmark script of this repository imported as a module (its `main` is not run)."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem + "_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_json(path: Path, payload: dict) -> None:
    """Write `payload` atomically, so a piece interrupted half-way leaves no JSON and is run again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=2))
    partial.replace(path)


def train(preset: str, run_dir: Path, overrides: list[str]) -> list[dict]:
    """`rethinker train PRESET` as a user types it (resumed from its checkpoint if any); its metrics rows."""
    command = [sys.executable, "-m", "rethinker.cli", "train", preset, f"run_dir={run_dir}", "resume=true"]
    subprocess.run([*command, *QUIET, *overrides], check=True, stdout=subprocess.DEVNULL)
    return read_jsonl(run_dir / "metrics.jsonl")


def final_checkpoint(run_dir: Path) -> Path:
    """The newest checkpoint of a run."""
    checkpoints = run_dir / "checkpoints"
    return checkpoints / (checkpoints / "latest").read_text().strip()


def series(rows: list[dict], key: str) -> list[list[float]]:
    """[[step, value], ...] of one metric over a run."""
    return [[row["step"], row[key]] for row in rows if key in row]


def sft_piece(args: argparse.Namespace) -> None:
    """The `sft-tiny` recipe (imperfect teacher, with any overrides), greedy held-out accuracy every `--every` steps;
    keeps the model."""
    from rethinker.train.warmup import SFT_CURVE, pretrain_tiny

    overrides = [f"seed={args.seed}", *([f"train.steps={args.steps}"] if args.steps else []), *args.overrides]
    model_dir = pretrain_tiny(args.out.with_suffix("") / "model", overrides, False, args.every, args.eval_size)
    curve = json.loads((model_dir / SFT_CURVE).read_text())["curve"]
    write_json(args.out, {"seed": args.seed, "curve": curve, "model": str(model_dir)})


def rl_piece(args: argparse.Namespace) -> None:
    """`rethinker train` (default preset) from a given start; the held-out curve and the update's telemetry."""
    run_dir = args.out.with_suffix("")
    overrides = [f"seed={args.seed}", "checkpoint.every=0", *args.overrides]
    if args.start:
        overrides.append(f"model.path={json.loads(args.start.read_text())['model']}")
    rows = train(args.preset, run_dir, overrides)
    payload = {
        "seed": args.seed,
        "overrides": overrides,
        "eval": series(rows, "eval/acc"),
        "groups_effective": series(rows, "groups/effective_frac"),
        "grad_norm": series(rows, "grad_norm"),
        "rollout_samples": series(rows, "rollout/samples_total"),
        "step_s": series(rows, "time/step_s"),
        "rethink": {key: series(rows, key) for key in sorted({k for row in rows for k in row}) if "rethink/" in key},
        "model": str(final_checkpoint(run_dir)),
    }
    if args.probe:
        payload |= rethinking_probes(Path(payload["model"]), args)
    write_json(args.out, payload)


def rethinking_probes(model: Path, args: argparse.Namespace) -> dict:
    """The held-out rethinking probes of a checkpoint: greedy (with test-time forcing) and sampled."""
    rethinking = load_script("benchmarks/rethinking/run.py")
    return {
        "probe": rethinking.probe(model, args.seed, args.probe, args.probe_tokens),
        "sampled": rethinking.sampled_rethinking(model, args.seed, args.probe, args.probe_tokens, SAMPLES_PER_ITEM),
    }


def probe_piece(args: argparse.Namespace) -> None:
    """The rethinking probes of a supervised start, the model of the piece named by `--start`."""
    if args.start is None:
        raise SystemExit("probe needs --start: the JSON of the supervised piece whose model it probes")
    model = Path(json.loads(args.start.read_text())["model"])
    write_json(args.out, {"seed": args.seed, "model": str(model), **rethinking_probes(model, args)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("sft", "rl", "probe"))
    parser.add_argument("--out", type=Path, required=True, help="the piece's JSON file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="sft: steps (0: the preset's)")
    parser.add_argument("--every", type=int, default=50, help="sft: evaluate every this many steps")
    parser.add_argument("--eval-size", type=int, default=200, help="sft: held-out items")
    parser.add_argument("--preset", default="tiny", help="rl: the preset")
    parser.add_argument("--start", type=Path, help="rl, probe: a piece JSON whose 'model' is the start")
    parser.add_argument("--probe", type=int, default=0, help="rl, probe: probe rethinking on this many held-out items")
    parser.add_argument("--probe-tokens", type=int, default=48)
    parser.add_argument("overrides", nargs="*", help="sft, rl: key=value overrides")
    args = parser.parse_intermixed_args()
    {"sft": sft_piece, "rl": rl_piece, "probe": probe_piece}[args.kind](args)


if __name__ == "__main__":
    main()
