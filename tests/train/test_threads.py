"""Torch's thread count follows the load: fewer threads while other processes keep the cores busy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rethinker.train.threads import ThreadGovernor, busy_seconds, threads_to_use
from tests.conftest import SMALL_RUN

STAT = """cpu  900 0 300 5000 10 0 0 0 0 0
cpu0 {busy0} 0 0 2500 5 0 0 0 0 0
cpu1 {busy1} 0 0 2500 5 0 0 0 0 0
intr 12345
"""


def stat(busy0: int, busy1: int) -> str:
    """A /proc/stat text whose two CPUs have spent these many ticks in user mode."""
    return STAT.format(busy0=busy0, busy1=busy1)


@pytest.fixture(autouse=True)
def keep_thread_count() -> Iterator[None]:
    """Tests here change torch's thread count; put it back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("max_threads", "cpus", "others", "expected"),
    [
        (2, 2, 0.0, 2),
        (2, 2, 0.4, 2),
        (2, 2, 0.6, 1),
        (2, 2, 2.0, 1),
        (8, 8, 3.0, 5),
        (4, 2, 0.0, 2),
        (2, 1, 0.0, 1),
        (1, 8, 0.0, 1),
    ],
)
def test_threads_fill_the_cpus_others_leave_free(max_threads: int, cpus: int, others: float, expected: int) -> None:
    assert threads_to_use(max_threads, cpus, others) == expected


def test_busy_seconds_count_only_the_cpus_the_process_may_use() -> None:
    text = stat(busy0=300, busy1=700)
    assert busy_seconds(text, {0}, 100.0) == pytest.approx(3.0)
    assert busy_seconds(text, {0, 1}, 100.0) == pytest.approx(10.0)
    assert busy_seconds(text, {5}, 100.0) is None
    assert busy_seconds("cpu0 1 2\n", {0}, 100.0) is None


class FakeMachine:
    """A clock, a /proc/stat and the process's own CPU time that a test moves forward."""

    def __init__(self) -> None:
        self.now, self.busy, self.own = 0.0, [0, 0], 0.0

    def advance(self, seconds: float, others_cpus: float, own_cpus: float) -> None:
        ticks = round((others_cpus + own_cpus) * seconds * 100)
        self.busy = [self.busy[0] + ticks // 2, self.busy[1] + ticks - ticks // 2]
        self.now += seconds
        self.own += own_cpus * seconds

    def governor(self, threads: int | str) -> ThreadGovernor:
        governor = ThreadGovernor(threads, lambda: stat(*self.busy), lambda: self.own, lambda: self.now)
        governor.cpus = {0, 1}
        governor.ticks_per_s = 100.0
        return governor


def test_auto_drops_to_one_thread_while_others_are_busy_and_returns_when_they_leave() -> None:
    torch.set_num_threads(2)
    machine = FakeMachine()
    governor = machine.governor("auto")
    machine.advance(1.0, others_cpus=0.0, own_cpus=2.0)
    assert governor.adjust() == {"cpu/threads": 2.0, "cpu/others_busy": 0.0}
    machine.advance(1.0, others_cpus=1.5, own_cpus=0.5)
    metrics = governor.adjust()
    assert metrics["cpu/threads"] == 1.0
    assert metrics["cpu/others_busy"] == pytest.approx(1.5)
    assert torch.get_num_threads() == 1
    machine.advance(0.1, others_cpus=0.0, own_cpus=1.0)
    assert governor.adjust()["cpu/threads"] == 1.0, "a window shorter than MIN_WINDOW_S decides nothing"
    machine.advance(1.0, others_cpus=0.0, own_cpus=1.0)
    assert governor.adjust()["cpu/threads"] == 2.0
    assert torch.get_num_threads() == 2


def test_a_fixed_count_holds_whatever_the_load() -> None:
    torch.set_num_threads(1)
    machine = FakeMachine()
    governor = machine.governor(2)
    assert torch.get_num_threads() == 2
    machine.advance(1.0, others_cpus=2.0, own_cpus=0.1)
    assert governor.adjust() == {"cpu/threads": 2.0, "cpu/others_busy": pytest.approx(2.0)}


def test_without_proc_stat_auto_keeps_the_starting_count() -> None:
    torch.set_num_threads(2)
    governor = ThreadGovernor("auto", lambda: None)
    assert governor.adjust() == {"cpu/threads": 2.0, "cpu/others_busy": 0.0}


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and 2 CPUs"
)
def test_rethinker_train_runs_one_thread_beside_two_cpu_hogs(
    rethinker_cli, tiny_dir: Path, tmp_path: Path, parity_reward: str
) -> None:
    """The console command, on two CPUs that two busy loops share with it, logs that it fell back to one thread."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(sorted(allowed)[:2]))
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        run_dir = tmp_path / "run"
        result = rethinker_cli(
            "train",
            "tiny",
            f"run_dir={run_dir}",
            *SMALL_RUN,
            "train.steps=8",
            "checkpoint.every=0",
            OMP_NUM_THREADS="2",
            timeout=300,
        )
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        os.sched_setaffinity(0, allowed)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["cpu/threads"] == 1.0
    assert rows[-1]["cpu/others_busy"] >= 0.7
    assert "torch now runs 1 thread(s)" in result.stderr, "auto started from the 2 threads OMP_NUM_THREADS gives"


@pytest.mark.parametrize("value", ["0", "fast"])
def test_a_bad_thread_count_is_one_line_naming_the_key(rethinker_cli, user_error, value: str) -> None:
    user_error(rethinker_cli("train", f"threads={value}"), "threads", "must be auto or a whole number of threads")
