"""Run many `rethinker` command lines fast: import the console entry point once, then fork one child per command line.

Each child is a process of its own that runs `rethinker.cli:main` (what the `rethinker` console script runs) with the
given arguments, its stdout and stderr written to files, and an uncaught exception printed as the interpreter prints
it; so a child's exit status and output are those of the console command, without paying the import for each line.

    python tests/cli_forks.py COMMANDS.json RESULTS.json [WORKERS]

COMMANDS.json holds a list of argument lists; RESULTS.json gets one {"returncode", "stdout", "stderr"} per line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

TIMEOUT_S = 300


def _child(argv: list[str], out: Path, err: Path) -> None:
    """Run the console entry point in this (forked) process and exit with its status; never returns."""
    code = 1
    try:
        signal.alarm(TIMEOUT_S)
        stdout, stderr = open(out, "w", buffering=1), open(err, "w", buffering=1)  # noqa: SIM115
        os.dup2(stdout.fileno(), 1)
        os.dup2(stderr.fileno(), 2)
        sys.stdout, sys.stderr = stdout, stderr
        sys.argv = ["rethinker", *argv]
        from rethinker.cli import main

        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if exit_.code is not None and not isinstance(exit_.code, int):
                print(exit_.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def run_all(commands: list[list[str]], workers: int) -> list[dict[str, object]]:
    """Every command line's exit status and output, `workers` children at a time."""
    import rethinker.cli  # noqa: F401  (imported once, before the forks)

    results: list[dict[str, object]] = [{} for _ in commands]
    running: dict[int, tuple[int, Path, Path]] = {}
    pending = list(range(len(commands)))
    with tempfile.TemporaryDirectory() as folder:
        while pending or running:
            while pending and len(running) < workers:
                index = pending.pop(0)
                out, err = Path(folder) / f"{index}.out", Path(folder) / f"{index}.err"
                pid = os.fork()
                if pid == 0:
                    _child(commands[index], out, err)
                running[pid] = (index, out, err)
            pid, status = os.wait()
            index, out, err = running.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            results[index] = {
                "returncode": code,
                "stdout": out.read_text(errors="replace") if out.exists() else "",
                "stderr": err.read_text(errors="replace") if err.exists() else "",
            }
    return results


if __name__ == "__main__":
    lines = json.loads(Path(sys.argv[1]).read_text())
    found = run_all(lines, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    Path(sys.argv[2]).write_text(json.dumps(found))
