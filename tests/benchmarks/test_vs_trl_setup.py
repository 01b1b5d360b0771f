"""The vs-TRL benchmark's driver logic: the alternating schedule, the rethinker overrides, medians and ratios."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "vs_trl"
sys.path.insert(0, str(BENCH_DIR))

from bench_common import RunResult, RunSpec, StepRecord, image_side, median_after_warmup, peak_rss_mb  # noqa: E402
from grid import Cell  # noqa: E402
from rethinker_side import overrides  # noqa: E402
from run import schedule  # noqa: E402
from summary import compare  # noqa: E402

from rethinker.config import RLConfig, load_config  # noqa: E402


def result(side: str, seconds: list[float], tokens: int = 512, rss: float = 900.0) -> RunResult:
    """A measured process with the given step times; rethinker steps carry their time parts."""
    steps = []
    for value in seconds:
        fractions = {"generate": 0.5, "reward": 0.1, "forward": 0.1, "backward": 0.15, "optimizer": 0.05, "log": 0.0}
        step_parts = {f"time/{part}_s": value * share for part, share in fractions.items()}
        steps.append(StepRecord(value, value / 2, tokens, step_parts if side == "rethinker" else {}))
    return RunResult(RunSpec(side, 32, len(seconds), "model", "work"), steps, rss)


def test_schedule_alternates_which_side_goes_first(tmp_path: Path) -> None:
    cells = [Cell("tiny", 16, 32, 8), Cell("tiny", 16, 128, 8)]
    specs = schedule(cells, repeats=2, steps=5, model_dirs={c.name: "m" for c in cells}, work_dir=tmp_path)
    order = [(s.max_new_tokens, s.side) for s in specs]
    assert order == [
        (32, "rethinker"),
        (32, "trl"),
        (128, "trl"),
        (128, "rethinker"),
        (32, "trl"),
        (32, "rethinker"),
        (128, "rethinker"),
        (128, "trl"),
    ]
    assert len({s.work_dir for s in specs}) == len(specs)


def test_schedule_runs_only_the_sides_a_cell_keeps(tmp_path: Path) -> None:
    cells = [Cell("base", 1024, 32, 8), Cell("small", 16, 32, 16)]
    sides = {cells[0].name: ("rethinker",)}
    specs = schedule(cells, 1, 3, {c.name: c.name for c in cells}, tmp_path, sides, prompts_per_step=1, threads=1)
    assert [(s.model_dir, s.side) for s in specs] == [
        ("base/1024/32/8", "rethinker"),
        ("small/16/32/16", "trl"),
        ("small/16/32/16", "rethinker"),
    ]
    assert specs[1].group_size == 16 and specs[1].batch_size == 16 and specs[1].threads == 1
    assert specs[0].image_tokens == 1024


def test_rethinker_overrides_resolve_to_the_benchmark_settings(tmp_path: Path) -> None:
    spec = RunSpec("rethinker", 128, 6, str(tmp_path / "model"), str(tmp_path), group_size=16, image_tokens=1024)
    config = load_config(RLConfig, "tiny", overrides(spec))
    assert config.rollout.group_size == 16 and config.train.queries_per_episode == 2
    assert config.train.micro_batch_size == 32 and config.train.update_batch_size == 0
    assert config.model.min_pixels == config.model.max_pixels == 896 * 896
    assert config.data.synthetic.image_size == 896 and config.prompt.max_prompt_tokens >= 1024 + 128
    assert config.rollout.max_new_tokens == 128 and config.rollout.top_k == 0 and config.rollout.top_p == 1.0
    assert config.algo.kl_coef == 0.0 and config.algo.update_epochs == 1
    assert config.optim.lr == pytest.approx(1e-4) and config.eval.every == 0 and config.checkpoint.every == 0
    assert not config.data.shuffle
    assert config.threads == spec.threads, "a fixed thread count, the same on both sides, whatever the load"


def test_compare_takes_medians_after_warmup_and_the_ratios() -> None:
    ours = [result("rethinker", [9.0, 1.0, 2.0, 3.0], rss=800.0)]
    trl = [result("trl", [9.0, 4.0, 4.0, 8.0], rss=1000.0)]
    summary = compare(ours + trl, warmup=1)
    assert summary["sides"]["rethinker"]["step_s_median"] == pytest.approx(2.0)
    assert summary["sides"]["trl"]["step_s_median"] == pytest.approx(4.0)
    assert summary["sides"]["rethinker"]["tokens_per_s_median"] == pytest.approx(256.0)
    assert summary["ratios"]["step_time_trl_over_rethinker"] == pytest.approx(2.0)
    assert summary["ratios"]["tokens_per_s_rethinker_over_trl"] == pytest.approx(2.0)
    assert summary["ratios"]["rss_trl_over_rethinker"] == pytest.approx(1.25)
    assert summary["ratios"]["paired_step_time_ratios"] == [pytest.approx(2.0)]
    assert summary["sides"]["trl"]["cpu_s_median"] == pytest.approx(2.0)
    assert summary["ratios"]["paired_cpu_time_ratio_median"] == pytest.approx(2.0)
    assert summary["rethinker_breakdown"]["generate_s"] == pytest.approx(1.0)
    assert summary["rethinker_breakdown"]["backward_s"] == pytest.approx(0.3)
    assert summary["rethinker_breakdown"]["other_s"] == pytest.approx(0.2)


def test_result_round_trips_through_json(tmp_path: Path) -> None:
    original = result("rethinker", [1.5, 2.5])
    original.save(tmp_path / "r.json")
    assert RunResult.load(tmp_path / "r.json") == original


def test_warmup_must_leave_steps() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        median_after_warmup([1.0, 2.0], warmup=2)


@pytest.mark.parametrize(("tokens", "side"), [(16, 112), (256, 448), (1024, 896)])
def test_image_side_gives_the_image_token_count(tokens: int, side: int) -> None:
    assert image_side(tokens) == side


@pytest.mark.parametrize("tokens", [0, 15, 200])
def test_image_tokens_must_be_a_square(tokens: int) -> None:
    with pytest.raises(ValueError, match="positive square"):
        image_side(tokens)


def test_peak_rss_is_the_process_own_high_water_mark(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 9000000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")
    assert peak_rss_mb(status) == pytest.approx(200.0)
    assert peak_rss_mb(tmp_path / "missing") > 0
