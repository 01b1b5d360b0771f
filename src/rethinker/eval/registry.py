"""Benchmark names to their modules' `BENCHMARK` objects, imported only when asked for."""

from __future__ import annotations

import importlib

from rethinker.errors import UserError
from rethinker.eval.suites.base import Benchmark

BENCHMARK_MODULES: dict[str, str] = {
    name: f"rethinker.eval.suites.{name}"
    for name in ("mathvista", "mathverse", "mathvision", "mmmu", "mmmu_pro", "emma", "megabench", "mmmath")
}
"""Every benchmark `rethinker eval` knows, by the name given on the command line."""


class UnknownBenchmarkError(UserError):
    """A benchmark name that is not registered; the message lists the known names."""


def benchmark_names() -> list[str]:
    """The registered benchmark names, sorted."""
    return sorted(BENCHMARK_MODULES)


def get_benchmark(name: str) -> Benchmark:
    """The `BENCHMARK` object of the named benchmark's module, importing the module on first use."""
    if name not in BENCHMARK_MODULES:
        raise UnknownBenchmarkError(f"unknown benchmark {name!r}; choose one of {', '.join(benchmark_names())}")
    return importlib.import_module(BENCHMARK_MODULES[name]).BENCHMARK
