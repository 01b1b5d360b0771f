"""The benchmark registry: names resolve to their modules' objects, lazily; an unknown name lists the known ones."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from rethinker.eval.registry import BENCHMARK_MODULES, UnknownBenchmarkError, benchmark_names, get_benchmark


def test_names_are_the_papers_benchmarks() -> None:
    assert benchmark_names() == [
        "emma",
        "mathverse",
        "mathvision",
        "mathvista",
        "megabench",
        "mmmath",
        "mmmu",
        "mmmu_pro",
    ]


@pytest.mark.parametrize("name", sorted(BENCHMARK_MODULES))
def test_each_name_gives_a_benchmark_object(name: str) -> None:
    if importlib.util.find_spec(BENCHMARK_MODULES[name]) is None:
        pytest.skip(f"{BENCHMARK_MODULES[name]} is not written yet")
    benchmark = get_benchmark(name)
    assert benchmark.NAME == name
    for method in ("load", "build_prompt", "score", "aggregate"):
        assert callable(getattr(benchmark, method))
    assert get_benchmark(name) is benchmark


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownBenchmarkError, match="unknown benchmark 'mathvistaa'.*mathvista, megabench, mmmath, mmmu, mmmu_pro"
    ):
        get_benchmark("mathvistaa")


def test_modules_are_imported_only_when_asked_for() -> None:
    code = (
        "import sys, rethinker.eval.registry as r\n"
        "before = 'rethinker.eval.suites.mathvista' in sys.modules\n"
        "r.get_benchmark('mathvista')\n"
        "print(before, 'rethinker.eval.suites.mathvista' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "True"]
