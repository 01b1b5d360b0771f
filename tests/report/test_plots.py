"""Figures: the expected PNGs exist and open, each lists the series it drew, missing metrics are left out."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from rethinker.report.metrics import load_run
from rethinker.report.plots import DPI, FIGURE_HEIGHT_IN, FIGURES, PANEL_WIDTH_IN, Series, moving_average, plot_runs
from tests.report.runs import finite, write_run


@pytest.fixture(scope="module")
def plotted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Series]]]:
    """One run with every metric, plotted once for the tests that only read the result."""
    root = tmp_path_factory.mktemp("plots")
    write_run(root / "ssr-rethink", rethink=True, replay=True)
    return root / "out", plot_runs([load_run(root / "ssr-rethink")], root / "out")


def _panels(file: str) -> int:
    return len(next(spec for spec in FIGURES if spec.file == file).panels)


def test_moving_average_matches_a_direct_window_mean() -> None:
    rng = random.Random(3)
    values = [rng.uniform(-1, 1) for _ in range(40)]
    for window in (1, 2, 5, 40, 100):
        expected = [sum(values[max(0, i - window + 1) : i + 1]) / min(i + 1, window) for i in range(len(values))]
        assert moving_average(values, window) == pytest.approx(expected)
    assert moving_average([], 3) == []


def test_every_figure_is_a_valid_png_of_the_expected_size(plotted: tuple[Path, dict[str, list[Series]]]) -> None:
    out, figures = plotted
    assert set(figures) == {spec.file for spec in FIGURES}
    for file in figures:
        with Image.open(out / file) as image:
            image.verify()
        with Image.open(out / file) as image:
            assert image.format == "PNG"
            width, height = image.size
        assert abs(width - PANEL_WIDTH_IN * DPI * _panels(file)) <= 2
        assert abs(height - FIGURE_HEIGHT_IN * DPI) <= 2


def test_series_per_figure_follow_the_metrics_of_one_run(plotted: tuple[Path, dict[str, list[Series]]]) -> None:
    figures = plotted[1]
    reward = {(s.key, s.points) for s in figures["reward.png"]}
    assert reward == {("reward/mean", 20), ("eval/acc", 5)}
    groups = [s.key for s in figures["groups.png"]]
    assert groups[:3] == ["groups/effective_frac", "groups/all_correct_frac", "groups/all_wrong_frac"]
    assert len(groups) == 8
    assert {s.key for s in figures["time.png"]} == {"time/step_s", "time/rollout_s", "time/reward_s", "time/update_s"}
    assert {s.key for s in figures["replay.png"]} == {"batch/effective_frac", "batch/replay_frac", "replay/buffer_size"}
    assert all(s.label == "ssr-rethink" for series in figures.values() for s in series)


def test_missing_metrics_skip_their_series_and_figures(tmp_path: Path) -> None:
    write_run(tmp_path / "plain", steps=8)
    metrics = tmp_path / "plain" / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    for row in rows:
        row.pop("time/reward_s", None)
        if row["step"] % 2:
            row["response/len_mean"] = None
        if row["step"] == 4:
            row["reward/mean"] = float("nan")
    metrics.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    figures = plot_runs([load_run(tmp_path / "plain")], out)
    assert set(figures) == {"reward.png", "groups.png", "length.png", "loss.png", "time.png"}
    assert not (out / "rethinking.png").exists() and not (out / "replay.png").exists()
    assert {s.key for s in figures["time.png"]} == {"time/step_s", "time/rollout_s", "time/update_s"}
    assert [s.key for s in figures["loss.png"]] == ["loss/policy"]
    points = {s.key: s.points for series in figures.values() for s in series}
    assert points["response/len_mean"] == len(finite([row.get("response/len_mean") for row in rows])) == 4
    assert points["reward/mean"] == 7


def test_two_runs_overlay_two_series_per_metric(tmp_path: Path) -> None:
    write_run(tmp_path / "grpo", steps=10, seed=1)
    write_run(tmp_path / "ssr", steps=16, seed=2, replay=True)
    runs = [load_run(tmp_path / "grpo", "GRPO"), load_run(tmp_path / "ssr", "SSR")]
    figures = plot_runs(runs, tmp_path / "out", smooth=3)
    for file in ("reward.png", "groups.png", "length.png", "time.png"):
        by_key: dict[str, list[tuple[str, int]]] = {}
        for s in figures[file]:
            by_key.setdefault(s.key, []).append((s.label, s.points))
        assert all(len(labels) == 2 for labels in by_key.values()), file
    reward = {(s.label, s.key): s.points for s in figures["reward.png"]}
    assert reward[("GRPO", "reward/mean")] == 10 and reward[("SSR", "reward/mean")] == 16
    assert {s.label for s in figures["replay.png"]} == {"SSR"}
    assert "rethinking.png" not in figures
