"""The paper-effects benchmark: its plan, its resumable scheduler, its summary from hand-made pieces, and the
end-to-end fast path (`run.sh --smoke`)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "benchmarks" / "paper_effects"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"paper_effects_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_plan_has_every_piece_and_its_dependencies(tmp_path: Path) -> None:
    run = load("run")
    pieces = run.plan_pieces(tmp_path, run.Plan(), {1, 2, 3})
    names = {piece.out.relative_to(tmp_path).as_posix(): piece for piece in pieces}
    assert len(names) == 3 * 2 + 5 * 4 + 5 * 5
    f3_sft = tmp_path / "f3" / "sft-seed2.json"
    assert names["f3/start-seed2.json"].args[:3] == ["probe", "--seed", "2"]
    assert names["f3/start-seed2.json"].needs == [f3_sft] and names["f3/stage1-seed2.json"].needs == [f3_sft]
    assert "data.synthetic.recheck_style=vote" in names["f3/sft-seed2.json"].args
    assert "data.synthetic.recheck_style=vote" not in names["f1/sft-seed2.json"].args
    assert "rollout.max_new_tokens=64" in names["f3/stage1-seed2.json"].args
    assert "rollout.max_new_tokens=64" not in names["f1/rl-seed2.json"].args
    assert run.RETHINK_TRIGGERS in names["f3/forced-seed2.json"].args
    assert names["f3/plain-seed2.json"].args[-5:] == names["f3/forced-seed2.json"].args[-5:]
    assert names["f1/rl-seed2.json"].needs == [tmp_path / "f1" / "sft-seed2.json"]
    assert names["f3/forced-seed1.json"].needs == [tmp_path / "f3" / "stage1-seed1.json"]
    assert "rethink.enabled=true" in names["f3/forced-seed1.json"].args
    assert "replay.mode=ssr" in names["f2/ssr-seed4.json"].args and not names["f2/ssr-seed4.json"].needs
    assert {p.out.parent.name for p in run.plan_pieces(tmp_path, run.Plan(), {2})} == {"f2"}


def test_scheduler_skips_finished_pieces_and_blocks_dependents_of_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = load("run")
    fake = tmp_path / "fake.py"
    fake.write_text(
        "import sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "sys.exit(3) if 'fail' in sys.argv else out.write_text('{}')\n"
    )
    monkeypatch.setattr(run, "PIECES", fake)
    out = tmp_path / "out"
    done, fresh, broken, after = (out / "f" / f"{name}.json" for name in ("done", "fresh", "broken", "after"))
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    pieces = [
        run.Piece(done, ["fail"]),
        run.Piece(fresh, ["ok"], [done]),
        run.Piece(broken, ["fail"]),
        run.Piece(after, ["ok"], [broken]),
    ]
    failed = run.run_all(pieces, workers=2, deadline=float("inf"))
    assert fresh.exists() and not broken.exists() and not after.exists()
    assert sorted(failed) == sorted([broken, after]), "the finished piece was skipped, the dependent one not started"
    assert run.run_all(pieces[:2], workers=1, deadline=float("inf")) == []


def write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def replay_run(seed: int, accs: list[float], per_step: float) -> dict:
    steps = [0, 10, 20]
    return {
        "seed": seed,
        "eval": [[s, a] for s, a in zip(steps, accs, strict=True)],
        "groups_effective": [[s, 0.5 - 0.01 * s] for s in range(1, 21)],
        "grad_norm": [[s, 1.0 + (s % 2)] for s in range(1, 21)],
        "rollout_samples": [[s, per_step * s] for s in range(1, 21)],
    }


def test_summary_from_hand_made_pieces(tmp_path: Path) -> None:
    shares = [[step, 0.4 if step <= 20 else 0.2] for step in range(1, 201)]
    for seed, (plateau, start, end) in enumerate([(0.70, 0.69, 0.85), (0.72, 0.70, 0.80)]):
        write(
            tmp_path / "f1" / f"sft-seed{seed}.json",
            {"seed": seed, "curve": [[s, plateau] for s in (50, 100, 150, 200)]},
        )
        write(
            tmp_path / "f1" / f"rl-seed{seed}.json",
            {"seed": seed, "eval": [[0, start], [200, end]], "groups_effective": shares},
        )
    for seed in (0, 1):
        for mode in ("none", "filter", "ssr"):
            write(tmp_path / "f2" / f"{mode}-seed{seed}.json", replay_run(seed, [0.7, 0.75, 0.8], 128))
        write(tmp_path / "f2" / f"dapo-seed{seed}.json", replay_run(seed, [0.7, 0.9, 0.95], 256))
    probe = {"spontaneous_rethink_frac": 0.2, "spontaneous_wrong_to_right": 0.05, "spontaneous_right_to_wrong": 0.01}
    probe |= {"acc_before": 0.8, "acc_after": 0.82, "wrong_to_right": 0.04, "right_to_wrong": 0.02}
    probe["forced_flip_shifts"] = {"wrong_to_right": {"+1": 3}, "right_to_wrong": {"+1": 1, "-1": 2}}
    for seed in (0, 1):
        for name, rate in (("forced", 0.3 + 0.1 * seed), ("plain", 0.1)):
            sampled = {"acc": 0.9, "spontaneous_rethink_frac": rate, "spontaneous_wrong_to_right": 0.02}
            sampled["spontaneous_right_to_wrong"] = 0.01 if name == "forced" else 0.015 + 0.01 * seed
            payload = {"seed": seed, "probe": probe, "rethink": {}, "sampled": sampled}
            write(tmp_path / "f3" / f"{name}-seed{seed}.json", payload)
        start = probe | {"acc_before": 0.7, "wrong_to_right": 0.15, "right_to_wrong": 0.07}
        write(tmp_path / "f3" / f"start-seed{seed}.json", {"seed": seed, "probe": start, "sampled": sampled})
        curve = [[step, 0.6 + seed / 10] for step in range(4)]
        write(tmp_path / "f3" / f"sft-seed{seed}.json", {"seed": seed, "curve": curve})
    subprocess.run([sys.executable, str(FOLDER / "summary.py"), str(tmp_path)], check=True, capture_output=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    first = summary["finding1"]
    assert [run["gain"] for run in first["runs"]] == pytest.approx([0.15, 0.08])
    assert first["every_seed_positive"] is True
    assert summary["finding2"]["vanishing"]["fall"][0] == pytest.approx(0.2), "first vs last 20 of 200 updates"
    modes = summary["finding2"]["modes"]
    assert modes["dapo"]["acc_equal_rollouts"][0] == pytest.approx(0.9), "dapo read at none's rollout count"
    assert modes["dapo"]["acc_end"][0] == pytest.approx(0.95)
    assert modes["ssr"]["vs_none"][0] == pytest.approx(0.0)
    assert modes["none"]["effective_first"][0] == pytest.approx(0.47)
    forced = summary["finding3"]["variants"]["forced"]
    assert forced["spontaneous_rethink_frac"] == [0.2, 0.2]
    assert forced["sampled"]["spontaneous_rethink_frac"] == pytest.approx([0.3, 0.4])
    assert forced["fixes"] == pytest.approx([0.2, 0.2]) and forced["breaks"] == pytest.approx([0.025, 0.025])
    start = summary["finding3"]["variants"]["start"]
    assert start["fixes"] == pytest.approx([0.5, 0.5]) and start["breaks"] == pytest.approx([0.1, 0.1])
    assert "accepted" not in start
    assert summary["finding3"]["start_plateau"] == pytest.approx([0.6, 0.7])
    assert forced["forced_flip_shifts"] == {"wrong_to_right": {"+1": 6}, "right_to_wrong": {"+1": 2, "-1": 4}}
    text = (tmp_path / "summary.md").read_text()
    assert "RL gain over the plateau: 0.115 ± " in text and "every seed positive: yes" in text
    assert "Spontaneous rethinking, forced minus plain (paired by seed): 0.250 ± 0.635." in text
    assert "| supervised start | 0.200 ± 0.000 |" in text and "| stage 2 forced |" in text
    assert "- stage 2 forced: wrong_to_right +1: 6; right_to_wrong -1: 4, +1: 2" in text
    forced_line = "- stage 2 forced: own sampled rethinks 0.010 ± 0.000 (above zero on 2 of 2 seeds); test-time forcing"
    assert forced_line + " 0.020 ± 0.000" in text
    assert "- stage 2 plain: own sampled rethinks 0.000 ± 0.064 (above zero on 1 of 2 seeds);" in text
    assert "The supervised start's plateau: 0.650 ± " in text
    assert "Net fixes of own sampled rethinks, forced minus plain (paired by seed): 0.010 ± 0.064." in text
    assert summary["finding3"]["net_fixes_forced_minus_plain"] == pytest.approx([0.005, 0.015])


@pytest.mark.slow
def test_run_sh_smoke_runs_every_piece_then_skips_them(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [str(FOLDER / "run.sh"), "--smoke", "--workers", "1", "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    pieces = sorted(p.relative_to(out).as_posix() for p in out.glob("f*/*.json"))
    assert pieces == [
        "f1/rl-seed0.json",
        "f1/sft-seed0.json",
        *[f"f2/{mode}-seed{seed}.json" for mode in ("dapo", "filter", "none", "ssr") for seed in (0, 1)],
        "f3/forced-seed0.json",
        "f3/plain-seed0.json",
        "f3/sft-seed0.json",
        "f3/stage1-seed0.json",
        "f3/start-seed0.json",
    ]
    forced = json.loads((out / "f3" / "forced-seed0.json").read_text())
    assert set(forced["sampled"]) == {
        "acc",
        "spontaneous_rethink_frac",
        "spontaneous_wrong_to_right",
        "spontaneous_right_to_wrong",
    }
    assert {"spontaneous_rethink_frac", "spontaneous_wrong_to_right", "spontaneous_right_to_wrong"} <= set(
        forced["probe"]
    )
    assert "rethink/attempted" in forced["rethink"], "the forced run logs its rethinking"
    start = json.loads((out / "f3" / "start-seed0.json").read_text())
    assert set(start["sampled"]) == set(forced["sampled"]) and set(start["probe"]) == set(forced["probe"])
    assert (out / "summary.md").read_text().count("## Finding") == 3
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert not [line for line in again.stdout.splitlines() if line.startswith("start ")], "finished pieces are skipped"


@pytest.mark.parametrize("arguments", [["--findings", "x"], ["--findings", "1,4"], ["--workers", "0"]])
def test_run_sh_refuses_bad_options_in_one_line(arguments: list[str]) -> None:
    result = subprocess.run([str(FOLDER / "run.sh"), *arguments], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("run.py: error: --")
