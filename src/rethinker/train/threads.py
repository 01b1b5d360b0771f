"""Torch's CPU thread count, fitted each step to the cores other processes leave free.

Torch's OpenMP threads meet at a barrier after every parallel operation. On a quiet machine a waiting thread spins
and the next operation starts at once; when other processes keep the cores busy, the scheduler parks one of the
threads for a whole time slice while its sibling spins at the barrier, and a step of many small operations slows down
by an order of magnitude instead of by the fair share. With `threads: auto` the trainers measure, once per step, how
much of their CPUs other processes used since the last step and run fewer threads while those cores are taken.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

BUSY_MARGIN = 0.5
"""Other processes using at least this share of a core on average count as taking it."""

MIN_WINDOW_S = 0.25
"""Shorter windows than this are too coarse for /proc/stat's 10 ms ticks; they are merged into the next one."""

PROC_STAT = Path("/proc/stat")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
"""user, nice, system, irq, softirq, steal: the columns of a /proc/stat cpu line that count a core as busy."""


def threads_to_use(max_threads: int, cpus: int, others_busy_cpus: float) -> int:
    """Threads to run: the CPUs others leave free (a small load does not count), between 1 and `max_threads`."""
    free = cpus - others_busy_cpus + BUSY_MARGIN
    return max(1, min(max_threads, math.floor(free)))


def busy_seconds(stat_text: str, cpus: set[int], ticks_per_s: float) -> float | None:
    """CPU-seconds the listed CPUs spent busy since boot, from the text of /proc/stat (None when unreadable)."""
    total = 0
    seen = 0
    for line in stat_text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        fields = rest.split()
        if len(fields) < max(BUSY_FIELDS) + 1:
            return None
        total += sum(int(fields[i]) for i in BUSY_FIELDS)
        seen += 1
    return total / ticks_per_s if seen else None


def read_proc_stat() -> str | None:
    """The text of /proc/stat, or None where there is none (not Linux)."""
    try:
        return PROC_STAT.read_text()
    except OSError:
        return None


class ThreadGovernor:
    """Sets torch's thread count before each step: fixed, or (`auto`) up to the starting count as others allow."""

    def __init__(
        self,
        threads: int | str,
        read_stat: Callable[[], str | None] = read_proc_stat,
        own_cpu_s: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adaptive = threads == "auto"
        self.max_threads = torch.get_num_threads() if self.adaptive else int(threads)
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        self.ticks_per_s = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._read_stat, self._own_cpu_s, self._clock = read_stat, own_cpu_s, clock
        self.others_busy_cpus = 0.0
        self._last = self._sample()
        torch.set_num_threads(self.max_threads)

    def _sample(self) -> tuple[float, float, float] | None:
        text = self._read_stat()
        busy = busy_seconds(text, self.cpus, self.ticks_per_s) if text is not None else None
        return None if busy is None else (self._clock(), busy, self._own_cpu_s())

    def adjust(self) -> dict[str, float]:
        """Measure the last window's load and, with `auto`, refit the thread count to it; returns `cpu/threads` and
        `cpu/others_busy` (CPUs' worth of time other processes used)."""
        now = self._sample() if self._last is not None else None
        if now is not None and now[0] - self._last[0] >= MIN_WINDOW_S:
            window = now[0] - self._last[0]
            others = (now[1] - self._last[1]) - (now[2] - self._last[2])
            self.others_busy_cpus = max(0.0, others / window)
            self._last = now
            if self.adaptive:
                self._set(threads_to_use(self.max_threads, len(self.cpus), self.others_busy_cpus))
        return {"cpu/threads": float(torch.get_num_threads()), "cpu/others_busy": self.others_busy_cpus}

    def _set(self, threads: int) -> None:
        if threads != torch.get_num_threads():
            log.info(
                "other processes keep %.1f of %d CPUs busy: torch now runs %d thread(s)",
                self.others_busy_cpus,
                len(self.cpus),
                threads,
            )
            torch.set_num_threads(threads)
