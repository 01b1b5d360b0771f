"""The papers' three findings on the tiny model, end to end, resumable: every piece writes one JSON under --out and
is skipped when that JSON exists; independent pieces run in parallel single-threaded processes (--workers).

1. RL beyond supervised training: the imperfect teacher's SFT curve to its plateau, then GRPO from it (3 seeds).
2. Vanishing advantages and SSR: none / filter / dapo / ssr from the packaged start (5 seeds).
3. Forced rethinking: a supervised start of its own (`sft-tiny` with a teacher whose counts of a crowded image are
   often one off either way and whose re-checks count again and vote), stage 1 (SSR), then stage 2 with and without
   forced rethinking, all probed on held-out items (5 seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from rethinker.rollout.triggers import SELF_QUESTIONING, SELF_VERIFICATION

HERE = Path(__file__).resolve().parent
PIECES = HERE / "pieces.py"
REPLAY_MODES = ("none", "filter", "dapo", "ssr")
RETHINK_VARIANTS = {"forced": "rethink.enabled=true", "plain": "rethink.enabled=false"}
RETHINK_TEACHER = [
    "data.synthetic.miscount_from=5",
    "data.synthetic.miscount_prob=0.5",
    "data.synthetic.miscount_direction=either",
    "data.synthetic.recheck_prob=0.25",
    "data.synthetic.recheck_style=vote",
]
"""Finding 3's teacher, over `sft-tiny`: half its counts of 5 dots or more are one off (short or over alike), and its
re-checks (a quarter of the solutions) count afresh, as error-prone as the first count, with a third count to settle a
disagreement. A re-check is then worth making only as a vote: no answer can be corrected by a fixed shift."""
RETHINK_RL = ["rollout.max_new_tokens=64"]
"""Room for a first answer and a voting re-check (about 50 tokens) in both stages."""
RETHINK_TRIGGERS = "rethink.triggers=" + json.dumps([SELF_QUESTIONING, SELF_VERIFICATION])
"""Stage 2 forces the paper's two triggers the cold start's re-checks open with; its third, self-correction ("Wait,
there might be a mistake"), is a phrase this model never saw, and forcing it garbles the model's own re-checks."""
SMOKE = [
    "train.steps=2",
    "eval.every=1",
    "eval.size=4",
    "data.synthetic.train_size=32",
    "data.synthetic.eval_size=4",
    "train.queries_per_episode=4",
    "rollout.group_size=4",
]
"""Overrides that shrink every RL piece to seconds (the fast path the tests run)."""


@dataclass
class Piece:
    """One process of the benchmark: its JSON, the command that writes it, and the pieces it needs first."""

    out: Path
    args: list[str]
    needs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """Seeds and lengths of the three findings."""

    sft_seeds: tuple[int, ...] = (0, 1, 2)
    replay_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    rethink_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    sft: list[str] = field(default_factory=list)
    rl: list[str] = field(default_factory=list)
    replay: list[str] = field(default_factory=lambda: ["train.steps=30", "eval.every=5", "eval.size=200"])
    stage1: list[str] = field(default_factory=lambda: ["train.steps=30", "eval.every=30", "eval.size=100"])
    stage2: list[str] = field(default_factory=lambda: ["train.steps=40", "eval.every=40", "eval.size=100"])
    probe: int = 200
    probe_tokens: int = 64


SMOKE_PLAN = Plan(
    sft_seeds=(0,),
    replay_seeds=(0, 1),
    rethink_seeds=(0,),
    sft=["--steps", "2", "--every", "1", "--eval-size", "4"],
    rl=SMOKE,
    replay=SMOKE,
    stage1=SMOKE,
    stage2=SMOKE,
    probe=4,
)


def plan_pieces(out: Path, plan: Plan, findings: set[int]) -> list[Piece]:
    """Every piece of the chosen findings, with its dependencies."""
    pieces = []
    if 1 in findings:
        for seed in plan.sft_seeds:
            sft = out / "f1" / f"sft-seed{seed}.json"
            pieces.append(Piece(sft, ["sft", "--seed", str(seed), *plan.sft]))
            rl = ["rl", "--seed", str(seed), "--start", str(sft), *plan.rl]
            pieces.append(Piece(out / "f1" / f"rl-seed{seed}.json", rl, [sft]))
    if 2 in findings:
        for seed in plan.replay_seeds:
            for mode in REPLAY_MODES:
                args = ["rl", "--seed", str(seed), f"replay.mode={mode}", *plan.replay]
                pieces.append(Piece(out / "f2" / f"{mode}-seed{seed}.json", args))
    if 3 in findings:
        probing = ["--probe", str(plan.probe), "--probe-tokens", str(plan.probe_tokens)]
        for seed in plan.rethink_seeds:
            sft = out / "f3" / f"sft-seed{seed}.json"
            pieces.append(Piece(sft, ["sft", "--seed", str(seed), *plan.sft, *RETHINK_TEACHER]))
            start = ["probe", "--seed", str(seed), "--start", str(sft), *probing]
            pieces.append(Piece(out / "f3" / f"start-seed{seed}.json", start, [sft]))
            stage1 = out / "f3" / f"stage1-seed{seed}.json"
            args = ["rl", "--preset", "vl-rethinker-stage1-tiny", "--seed", str(seed), "--start", str(sft)]
            pieces.append(Piece(stage1, [*args, *plan.stage1, *RETHINK_RL], [sft]))
            for name, switch in RETHINK_VARIANTS.items():
                args = ["rl", "--preset", "vl-rethinker-stage2-tiny", "--seed", str(seed), "--start", str(stage1)]
                args += [*probing, switch, *plan.stage2, *RETHINK_RL, RETHINK_TRIGGERS]
                pieces.append(Piece(out / "f3" / f"{name}-seed{seed}.json", args, [stage1]))
    return pieces


def run_piece(piece: Piece) -> int:
    """Run one piece single-threaded, its output in a log beside its JSON; the exit status."""
    piece.out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, str(PIECES), *piece.args[:1], "--out", str(piece.out), *piece.args[1:]]
    with open(piece.out.with_suffix(".log"), "w") as log:
        return subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def run_all(pieces: list[Piece], workers: int, deadline: float) -> list[Path]:
    """Run the pieces whose JSON is missing, dependencies first, `workers` at a time; the ones that failed."""
    todo = [piece for piece in pieces if not piece.out.exists()]
    failed: list[Path] = []
    running: dict[Future[int], Piece] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while todo or running:
            busy = {piece.out for piece in running.values()} | {piece.out for piece in todo}
            ready = [p for p in todo if not any(need in busy or need in failed for need in p.needs)]
            blocked = [p for p in todo if any(need in failed for need in p.needs)]
            for piece in blocked:
                todo.remove(piece)
                failed.append(piece.out)
            while ready and len(running) < workers and time.monotonic() < deadline:
                piece = ready.pop(0)
                todo.remove(piece)
                print(f"start {piece.out.relative_to(piece.out.parents[1])}", flush=True)
                running[pool.submit(run_piece, piece)] = piece
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                piece = running.pop(future)
                status = "done" if future.result() == 0 and piece.out.exists() else "FAILED (see its .log)"
                if status != "done":
                    failed.append(piece.out)
                print(f"{status} {piece.out.relative_to(piece.out.parents[1])}", flush=True)
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--findings", default="1,2,3", help="which findings to run, e.g. 1,2")
    parser.add_argument("--smoke", action="store_true", help="every piece for 1-2 steps (seconds): the fast path")
    parser.add_argument("--max-minutes", type=float, default=0, help="start no piece after this long (0: no limit)")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    parts = {part.strip() for part in args.findings.split(",") if part.strip()}
    findings = {int(part) for part in parts if part in ("1", "2", "3")}
    if not findings or len(findings) != len(parts):
        parser.error(f"--findings takes numbers among 1,2,3, got {args.findings!r}")
    deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes > 0 else float("inf")
    out = args.out.resolve()
    pieces = plan_pieces(out, SMOKE_PLAN if args.smoke else Plan(), findings)
    failed = run_all(pieces, args.workers, deadline)
    subprocess.run([sys.executable, str(HERE / "summary.py"), str(out)], check=True)
    for path in failed:
        print(f"failed: {path}", file=sys.stderr)
    left = [piece for piece in pieces if not piece.out.exists() and piece.out not in failed]
    if left:
        print(f"{len(left)} pieces left after --max-minutes: run the same command again to continue", file=sys.stderr)
    return 1 if failed else 3 if left else 0


if __name__ == "__main__":
    sys.exit(main())
