"""The busy-machine benchmark's summary and arguments (its measurements run only as the benchmark)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "busy_machine" / "run.py"
spec = importlib.util.spec_from_file_location("busy_machine_run", SCRIPT)
busy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(busy)


def cell(hogs: int, threads: str, seconds: list[float], chosen: float) -> dict:
    """A measured cell: per-step rows with the threads the trainer chose."""
    return {
        "hogs": hogs,
        "threads": threads,
        "rows": [{"s": s, "threads": chosen, "others_busy": hogs} for s in seconds],
    }


def test_summary_compares_each_cell_with_its_own_and_the_first_settings_quiet_cell() -> None:
    cells = [
        cell(0, "auto", [9.0, 0.30, 0.40, 0.35], 2.0),
        cell(0, "2", [9.0, 0.30, 0.30, 0.30], 2.0),
        cell(3, "auto", [9.0, 1.0, 1.2, 1.4], 1.0),
        cell(3, "2", [9.0, 9.0, 9.0, 9.0], 2.0),
    ]
    table = busy.summarise(cells, warmup=1)
    by_cell = {(row["hogs"], row["threads"]): row for row in table}
    assert by_cell[(0, "auto")]["median_s"] == 0.35
    assert by_cell[(3, "auto")]["vs_own_quiet"] == round(1.2 / 0.35, 2)
    assert by_cell[(3, "auto")]["threads_chosen"] == 1.0
    assert by_cell[(3, "2")]["vs_own_quiet"] == 30.0
    assert by_cell[(3, "2")]["vs_quiet_auto"] == round(9.0 / 0.35, 2)
    lines = busy.markdown(table).splitlines()
    assert lines[0].startswith("| hogs | threads | median_s")
    assert len(lines) == 2 + len(cells)


def test_steps_must_exceed_the_warm_up() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "3", "--warmup", "3"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--steps must exceed --warmup" in result.stderr


@pytest.mark.parametrize("hogs", [0, 1])
def test_one_cell_runs_the_default_run_and_reports_the_threads_it_chose(hogs: int) -> None:
    rows = busy.run_cell(hogs, "1", steps=2)
    assert len(rows) == 2
    assert all(row["threads"] == 1.0 and row["s"] > 0 for row in rows)
