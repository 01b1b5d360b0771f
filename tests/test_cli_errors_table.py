"""Every bad input of `tests/bad_inputs.py`, typed into the console commands: one clean line and exit 2 for each.

The cases run through `tests/cli_forks.py` (the console entry point imported once, one forked process per command
line, three at a time), and the first case of each command also through the installed `rethinker` script, whose
status and error line must be the same. The test also writes the table of docs/reliability.md ("Bad inputs")
from what the commands print, and checks the committed table matches; `RETHINKER_REGEN_DOCS=1` rewrites it instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.bad_inputs import Case, all_cases, write_inputs

DOC = Path(__file__).parents[1] / "docs" / "reliability.md"
FORKS = Path(__file__).with_name("cli_forks.py")
HEADING = "## Bad inputs"
START, END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"
VOLATILE_MARK = " †"
WORKERS = 3
MINIMUM_CASES = 150
RUN_FOLDER = re.compile(r"DIR/runs/case-\d+")


def typed(case: Case, folder: Path, index: int) -> list[str]:
    """The case's command line with its placeholders filled in."""
    run = folder / "runs" / f"case-{index}"
    return [arg.replace("{d}", str(folder)).replace("{run}", str(run)) for arg in case.args]


def error_line(result: subprocess.CompletedProcess[str], folder: Path) -> str:
    """The last line of stderr (the error), with the temporary folder written as DIR and a case's run folder as RUN."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return RUN_FOLDER.sub("RUN", (lines[-1] if lines else "").replace(str(folder), "DIR"))


def table(cases: list[Case], lines: list[str]) -> str:
    """The Markdown table: command, bad input, and the one line it prints; † marks wording owned elsewhere."""
    rows = ["| command | bad input | error (exit status 2) |", "| --- | --- | --- |"]
    for case, line in zip(cases, lines, strict=True):
        cell = line.replace("|", "\\|")
        rows.append(f"{row_head(case)} `{cell}` |")
    return "\n".join(rows)


def row_head(case: Case) -> str:
    """A table row's command and bad-input cells, † marking wording owned elsewhere."""
    mark = VOLATILE_MARK if case.volatile else ""
    return f"| `{case.command or '(none)'}`{mark} | {case.kind.replace('|', '/')} |"


def comparable(text: str) -> list[str]:
    """Table rows with the message of † rows blanked, so wording changed in parallel does not fail the check."""
    out = []
    for row in text.strip().splitlines():
        cells = row.split(" | ")
        out.append(" | ".join(cells[:2]) + " | *" if VOLATILE_MARK in cells[0] else row)
    return out


def section(cases: list[Case], lines: list[str]) -> str:
    """The whole "Bad inputs" section of docs/reliability.md."""
    counts = Counter(case.command or "(none)" for case in cases)
    summary = ", ".join(f"{command} {count}" for command, count in counts.items())
    return (
        f"{HEADING}\n\n"
        "Each row is a mistake typed into a console command and the one line the command prints; every one exits with "
        "status 2 and no traceback. Mistakes in the command line, the config's values, model paths and data files are "
        "found before any model loads; a few (an unknown prompt template, a bad SFT conversation, a corrupt image, W&B "
        "failing to start) only "
        "once it is loaded. The table is written by `tests/test_cli_errors_table.py` from what the commands print "
        "(`DIR` is the test's folder, `RUN` a case's run folder); regenerate it with `RETHINKER_REGEN_DOCS=1 pytest -m "
        "slow tests/test_cli_errors_table.py`. Rows marked † show wording owned by another part (the check there is "
        "the exit status and a key fragment).\n\n"
        f"{len(cases)} kinds: {summary}.\n\n{START}\n{table(cases, lines)}\n{END}\n"
    )


def replace_section(document: str, new: str) -> str:
    """The document with its "Bad inputs" section (up to the next `## ` heading) replaced, or appended."""
    if HEADING not in document:
        return (document.rstrip() + "\n\n" if document.strip() else "# Reliability\n\n") + new
    head, rest = document.split(HEADING, 1)
    tail = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
    return head + new + ("\n" + tail if tail else "")


def run_cases(cases: list[Case], folder: Path) -> list[subprocess.CompletedProcess[str]]:
    """Every case's command line run by `tests/cli_forks.py`: one import, then one forked process per command."""
    commands = [typed(case, folder, index) for index, case in enumerate(cases)]
    (folder / "commands.json").write_text(json.dumps(commands), encoding="utf-8")
    runner = [sys.executable, str(FORKS), str(folder / "commands.json"), str(folder / "results.json"), str(WORKERS)]
    subprocess.run(runner, check=True, timeout=3600, stdin=subprocess.DEVNULL)
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return [
        subprocess.CompletedProcess(["rethinker", *command], r["returncode"], r["stdout"], r["stderr"])
        for command, r in zip(commands, results, strict=True)
    ]


def one_per_command(cases: list[Case]) -> list[int]:
    """The index of the first case of each command: those are also typed into the real console script."""
    first: dict[str, int] = {}
    for index, case in enumerate(cases):
        first.setdefault(case.command, index)
    return list(first.values())


@pytest.mark.slow
def test_every_bad_input_is_one_clean_line(
    tmp_path: Path,
    rethinker_cli: Callable[..., subprocess.CompletedProcess[str]],
    user_error: Callable[..., None],
) -> None:
    cases = all_cases()
    assert len(cases) >= MINIMUM_CASES
    write_inputs(tmp_path)
    results = run_cases(cases, tmp_path)
    lines = [error_line(result, tmp_path) for result in results]
    if os.environ.get("RETHINKER_REGEN_DOCS"):
        document = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        DOC.write_text(replace_section(document, section(cases, lines)), encoding="utf-8")
    failures = []
    for case, result in zip(cases, results, strict=True):
        try:
            user_error(result, case.fragment)
        except AssertionError as error:
            failures.append(f"{case.command} / {case.kind}: {error}")
    assert not failures, "\n".join(failures)

    sample = one_per_command(cases)
    with ThreadPoolExecutor(WORKERS) as pool:
        typed_results = list(pool.map(lambda index: rethinker_cli(*typed(cases[index], tmp_path, index)), sample))
    for index, console in zip(sample, typed_results, strict=True):
        assert (console.returncode, error_line(console, tmp_path)) == (results[index].returncode, lines[index])

    document = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert START in document, f"{DOC} has no table yet; run with RETHINKER_REGEN_DOCS=1"
    committed = document[document.index(START) + len(START) : document.index(END)]
    fresh = table(cases, lines)
    assert comparable(committed) == comparable(fresh), "docs/reliability.md is stale; run with RETHINKER_REGEN_DOCS=1"


def test_committed_table_lists_every_case_in_order() -> None:
    document = DOC.read_text(encoding="utf-8")
    committed = document[document.index(START) + len(START) : document.index(END)].strip().splitlines()[2:]
    cases = all_cases()
    assert len(cases) >= MINIMUM_CASES
    expected = [row_head(case) for case in cases]
    assert [row[: len(prefix)] for row, prefix in zip(committed, expected, strict=True)] == expected
