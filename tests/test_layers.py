"""The package layers: jobs never import the trainer, and no two top-level packages import each other in a circle.

Every `rethinker` import counts, inside functions too: a lazy import of a sibling package is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import rethinker

SOURCE = Path(rethinker.__file__).parent
ALLOWED_TRAIN_IMPORTERS = {"train", "cli"}
"""Top-level parts that may import `rethinker.train`: the trainer itself and the command that starts it."""
JOBS = {"train", "eval", "serve", "curation", "coldstart", "report"}
"""The packages behind the sub-commands; they stand side by side over the shared layers."""


def module_name(path: Path) -> str:
    """`rethinker.a.b` for `src/rethinker/a/b.py` (a package's `__init__.py` names the package)."""
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute module name a file imports, at any depth (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            yield ".".join([*base, *([node.module] if node.module else [])])


def top_level(module: str) -> str:
    """The top-level part of a `rethinker` module: `data` for `rethinker.data.loaders`, `cli` for `rethinker.cli`."""
    return module.split(".")[1]


def package_imports() -> dict[str, dict[str, set[str]]]:
    """For each top-level part, the other parts it imports, with the modules that do it."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        source = module_name(path)
        if source == "rethinker":
            continue
        for target in imported_modules(path):
            if target.startswith("rethinker.") and top_level(target) != top_level(source):
                graph.setdefault(top_level(source), {}).setdefault(top_level(target), set()).add(source)
    return graph


def find_cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """One circle of imports between top-level parts (as the list of parts walked), or None."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph.get(node, {})):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (cycle := visit(target, [*trail, target])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_only_the_command_imports_the_trainer() -> None:
    graph = package_imports()
    offenders = sorted(
        module
        for part, targets in graph.items()
        if part not in ALLOWED_TRAIN_IMPORTERS
        for module in targets.get("train", ())
    )
    assert offenders == []


def test_jobs_do_not_import_each_other() -> None:
    graph = package_imports()
    crossings = {job: sorted(set(graph.get(job, {})) & JOBS) for job in JOBS}
    assert {job: targets for job, targets in crossings.items() if targets} == {}


def test_no_import_cycle_between_packages() -> None:
    graph = package_imports()
    cycle = find_cycle(graph)
    detail = [sorted(graph[a][b]) for a, b in zip(cycle, cycle[1:], strict=False)] if cycle else []
    assert cycle is None, f"{' -> '.join(cycle or [])}: {detail}"


def test_the_cycle_finder_sees_a_circle_and_a_clean_layering() -> None:
    assert find_cycle({"a": {"b": {"m"}}, "b": {"c": {"m"}}, "c": {"a": {"m"}}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": {"m"}, "c": {"m"}}, "b": {"c": {"m"}}}) is None


def test_lazy_imports_inside_functions_are_seen(tmp_path: Path) -> None:
    module = SOURCE / "cli.py"
    assert "rethinker.train.grpo" in set(imported_modules(module))
