"""The numeric value of a MATH-V answer: LaTeX parsed to sympy and evaluated, bounded in time, size and memory.

The official scorer runs `eval(str(latex2sympy(answer)))` with Python's `math` names in scope. We never `eval`: the
answer is parsed by `latex2sympy2_extended` (the maintained fork that `math-verify` ships, on the antlr 4.13 runtime
already installed; the official `latex2sympy2` pins antlr 4.7.2, which would break `math-verify`), and a scalar with no
free symbols is evaluated by sympy. A scalar counts as an `int` when sympy knows it is an integer, as the official
`eval` of an integer literal does (this matters for how tuples print). Parsing and evaluating untrusted text can take
unbounded time or memory (`10^{10^{10}}`), so `BoundedLatexNumbers` runs it in a worker process that is killed past a
deadline; a text that times out, crashes, or is longer than `MAX_LATEX_CHARS` has no value.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

Number = int | float

MAX_LATEX_CHARS = 1_000
TIMEOUT_S = 2.0
STARTUP_TIMEOUT_S = 120.0
WARM_UP = "\\frac{1}{2}+\\sqrt{2}\\pi"
"""Parsed before the worker reports ready, so lazy imports never eat into a real answer's deadline."""
WORKER_MEMORY_BYTES = 2 * 1024**3
CACHE_SIZE = 100_000
PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
PLAIN_INTEGER = re.compile(r"[+-]?\d{1,300}")
PLAIN_DECIMAL = re.compile(r"[+-]?\d{0,300}\.\d{1,300}")
LETTER_WORD = re.compile(r"\{?[A-Za-z]+\}?")
PARSER_INPUT_REWRITES = (
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\displaystyle", " "),
    ("\\quad", " "),
    ("\\qquad", " "),
    ("~", " "),
    ("\\,", " "),
    ("$", " "),
    ("\\bigl(", "("),
    ("\\bigr)", ")"),
    ("\\left(", "("),
    ("\\right)", ")"),
)
"""The input clean-up the official `latex2sympy2` does before parsing (dollars, spacing, sized brackets)."""
DEGREE_SIGN = "\\circ"
"""The official parser reads `\\circ` as a symbol, so a value written in degrees has no number (the fork drops it)."""


def sympy_number(expr: object) -> Number | None:
    """The real value of a sympy scalar without free symbols (`int` if known integral), else None."""
    import sympy

    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    if expr.is_Integer:
        return int(expr)
    value = expr.evalf()
    if not (value.is_Number and value.is_extended_real and value.is_finite):
        return None
    if expr.is_integer:
        return int(expr.doit())
    return float(value)


def known_value(text: str) -> tuple[bool, Number | None]:
    """(True, value) where the value is clear without parsing, else (False, None).

    Plain numbers have their value; over-long texts and values in degrees have none; a word of letters parses as a
    product of symbols, so it has none unless every letter is "e" (Euler's number to the parser).
    """
    if len(text) > MAX_LATEX_CHARS or DEGREE_SIGN in text:
        return True, None
    if PLAIN_INTEGER.fullmatch(text):
        return True, int(text)
    if PLAIN_DECIMAL.fullmatch(text):
        return True, float(text)
    if LETTER_WORD.fullmatch(text) and set(text.strip("{}").lower()) != {"e"}:
        return True, None
    return False, None


def latex_number(text: str) -> Number | None:
    """The value of a LaTeX answer as the official scorer computes it, without `eval`; None where it has none."""
    known, value = known_value(text)
    if known:
        return value
    from latex2sympy2_extended import latex2sympy

    for old, new in PARSER_INPUT_REWRITES:
        text = text.replace(old, new)
    try:
        return sympy_number(latex2sympy(text, normalization_config=None))
    except Exception:
        return None


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        return


def _encode(value: Number | None) -> str:
    try:
        return json.dumps(value)
    except ValueError:
        return "null"


def serve(source: TextIO, sink: TextIO) -> None:
    """Worker loop: warm up, say ready, then answer each JSON text line with its `latex_number` as a JSON line."""
    _limit_memory()
    latex_number(WARM_UP)
    sink.write("true\n")
    sink.flush()
    for line in source:
        try:
            value = latex_number(json.loads(line))
        except (MemoryError, RecursionError, ValueError, TypeError):
            value = None
        sink.write(_encode(value) + "\n")
        sink.flush()


class BoundedLatexNumbers:
    """`latex_number` run in a worker process with a deadline per text; results are cached; safe to share by threads."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        """Prepare (but do not start) the worker; it starts on first use and restarts after a timeout or a crash."""
        self.timeout_s = timeout_s
        self.timeouts = 0
        self._cache: dict[str, Number | None] = {}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending = b""

    def __call__(self, text: str) -> Number | None:
        """The value of `text`, or None where it has none or its evaluation ran past the deadline."""
        known, value = known_value(text)
        if known:
            return value
        with self._lock:
            if text not in self._cache:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[text] = self._evaluate(text)
            return self._cache[text]

    def _evaluate(self, text: str) -> Number | None:
        process = self._worker()
        try:
            assert process.stdin is not None
            process.stdin.write((json.dumps(text) + "\n").encode())
            process.stdin.flush()
            reply = self._read_line(self.timeout_s)
        except OSError:
            reply = None
        if reply is None:
            self.timeouts += 1
            self.close()
            return None
        value = json.loads(reply)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    def _read_line(self, timeout_s: float) -> bytes | None:
        """One line from the worker, or None if none arrives within `timeout_s` (or the worker died)."""
        assert self._process is not None and self._process.stdout is not None
        descriptor = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                return None
            chunk = os.read(descriptor, 65536)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self.close()
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, environment.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )
        if self._read_line(STARTUP_TIMEOUT_S) != b"true":
            self.close()
            raise RuntimeError("the LaTeX evaluation worker did not start")
        return self._process

    def close(self) -> None:
        """Stop the worker process (a later call starts a new one)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
        self._pending = b""


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
