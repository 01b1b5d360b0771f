"""Answer equivalence in bounded time and size: pure fast paths first, then math-verify in killable worker processes.

math-verify's own timeout is signal based (it fails outside a main thread and cannot interrupt long C calls such as
big-integer powers), so every check it runs happens in a worker process that is killed and replaced when a check
overruns `timeout_s`; that check scores False. Workers are fresh interpreters (`python -m rethinker.rewards.verify`),
never forks of a caller that holds torch, and unlike the `spawn` start method they never re-import the caller's script.
Most checks never reach a worker: letters, equal strings and plain numbers are decided here, and oversized, deeply
nested or explosive answers (power towers, huge factorials) score False at once.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable
from multiprocessing.connection import wait
from pathlib import Path
from types import TracebackType
from typing import IO

from rethinker.rewards.extract import boxed_answers, clean_answer, unwrap_text

DEFAULT_MAX_CHARS = 1_000
MAX_NESTING = 10
MAX_FACTORIAL_ARGUMENT = 1_000
STARTUP_TIMEOUT_S = 120.0
_READY = b"ready"
_WARM_UP = (
    ("\\frac{1}{2}", "0.5"),
    ("x^2-1", "(x-1)(x+1)"),
    ("\\{1, 2\\}", "\\{2, 1\\}"),
    ("[2014, 2016]", "(2014, 2016]"),
    ("y=2x+1", "2x+1"),
)
"""Checks a new worker runs before it reports ready, so sympy's lazy imports never eat into a real check's time."""

_LETTER_GOLD = re.compile(r"\(?([A-K])\)?\.?")
_LETTER_TOKEN = re.compile(r"\(([A-K])\)|([A-K])(?=$|[\s.:),])")
_SECOND_OPTION = re.compile(r"\s*(?:,|/|&|\bor\b|\band\b)\s*\(?[A-K]\)?(?:$|[\s.:),])", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_POWER_TOWER = re.compile(r"\^\s*(?:\{\s*)?[\d.]+\s*(?:\}\s*)?\^")
_BIG_EXPONENT = re.compile(r"\^\s*(?:\{\s*)?\d{5,}")
_FACTORIAL = re.compile(r"(\d+)\s*!")
_WORDS = re.compile(r"[^\W\d_]+(?:[\s'-]+[^\W\d_]+)*")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\\mathrm|\\textbf|\\text|\\mbox|[\s$]")


def canonical(text: str) -> str:
    """A normal form for string comparison: lower case, no whitespace, `$`, spacing, sizing or text commands."""
    plain = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\%", "%")
    return _LATEX_NOISE.sub("", plain).lower().rstrip(".")


def prepare(answer: str) -> str:
    """An answer ready to compare: `<answer>` tags and a prefix stripped; several boxed answers joined into a set."""
    text = answer.replace("<answer>", " ").replace("</answer>", " ")
    boxed = boxed_answers(text)
    return unwrap_text(clean_answer(", ".join(boxed) if boxed else text))


def gold_letter(gold: str) -> str | None:
    """The option letter a gold answer names (`B`, `(B)`, `B.`), or None when the gold is not a letter."""
    match = _LETTER_GOLD.fullmatch(gold.strip())
    return match.group(1) if match else None


def leading_letter(pred: str) -> str | None:
    """The option letter `pred` starts with as a token (`B`, `(B)`, `B. 12`, `\\text{B}`), or None; a hedge `A or B`
    is None."""
    text = unwrap_text(pred)
    match = _LETTER_TOKEN.match(text)
    if match is None or _SECOND_OPTION.match(text, match.end()):
        return None
    return match.group(1) or match.group(2)


def as_number(text: str) -> float | None:
    """The value of a plain decimal number (thousands commas allowed), or None for anything else."""
    stripped = text.strip()
    if _THOUSANDS.fullmatch(stripped):
        stripped = stripped.replace(",", "")
    if not _NUMBER.fullmatch(stripped):
        return None
    value = float(stripped)
    return value if math.isfinite(value) else None


def nesting_depth(text: str) -> int:
    """The deepest nesting of brackets of any kind in `text`."""
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth = max(depth - 1, 0)
    return deepest


def is_explosive(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> bool:
    """True for answers too long, too deeply nested, or that hide astronomically large numbers."""
    if len(text) > max_chars or nesting_depth(text) > MAX_NESTING:
        return True
    if _POWER_TOWER.search(text) or _BIG_EXPONENT.search(text):
        return True
    return any(len(digits) > 6 or int(digits) > MAX_FACTORIAL_ARGUMENT for digits in _FACTORIAL.findall(text))


def quick_verdict(gold: str, pred: str, max_chars: int = DEFAULT_MAX_CHARS) -> bool | None:
    """The verdict when it needs no math-verify (letters, equal strings, words, numbers, bad inputs), else None.

    A gold option letter A-K is matched only by a prediction that starts with that letter as a token. Two plain words
    or phrases are equal only as text (math-verify would read "ab" as a*b and call it equal to "ba").
    """
    if len(gold) > 4 * max_chars or len(pred) > 4 * max_chars:
        return False
    gold, pred = prepare(gold), prepare(pred)
    if not gold or not pred or len(gold) > max_chars or len(pred) > max_chars:
        return False
    letter = gold_letter(gold)
    if letter is not None:
        return leading_letter(pred) == letter
    if canonical(gold) == canonical(pred):
        return True
    if _WORDS.fullmatch(gold) and _WORDS.fullmatch(pred):
        return False
    gold_value, pred_value = as_number(gold), as_number(pred)
    if gold_value is not None and pred_value is not None:
        return math.isclose(gold_value, pred_value, rel_tol=1e-9, abs_tol=1e-9)
    if is_explosive(gold, max_chars) or is_explosive(pred, max_chars):
        return False
    return None


def _check_in_worker(gold: str, pred: str, inner_timeout_s: int) -> bool:
    from math_verify import parse, verify

    try:
        parsed_gold = parse(f"\\boxed{{{gold}}}", parsing_timeout=inner_timeout_s)
        parsed_pred = parse(f"\\boxed{{{pred}}}", parsing_timeout=inner_timeout_s)
        return bool(parsed_gold and parsed_pred and verify(parsed_gold, parsed_pred, timeout_seconds=inner_timeout_s))
    except Exception:
        return False


def serve(inner_timeout_s: int, memory_limit_mb: int | None) -> None:
    """Worker process body: limit memory, warm math-verify up, then answer JSON-line checks on stdin until it closes.

    The memory limit (address space on top of what the interpreter already maps) applies where /proc exists (Linux).

    Replies go to a private copy of stdout; the real stdout is pointed at stderr so stray prints cannot corrupt them.
    """
    import logging
    import resource

    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    if memory_limit_mb is not None and os.path.exists("/proc/self/statm"):
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
        limit = in_use + memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    for gold, pred in _WARM_UP:
        _check_in_worker(gold, pred, inner_timeout_s)
    replies.write(_READY + b"\n")
    for line in sys.stdin.buffer:
        gold, pred = json.loads(line)
        replies.write(b"1\n" if _check_in_worker(gold, pred, inner_timeout_s) else b"0\n")


class _Worker:
    """One worker process (a fresh interpreter, never a fork of the caller) with the check it is running."""

    def __init__(self, inner_timeout_s: int, memory_limit_mb: int | None) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        search_path = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(search_path)}
        limit = "none" if memory_limit_mb is None else str(memory_limit_mb)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rethinker.rewards.verify", str(inner_timeout_s), limit],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=environment,
        )
        self.requests: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self.replies: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        self.ready = False
        self.started_at = time.monotonic()
        self.job: int | None = None
        self.deadline = math.inf

    def send(self, job: int, gold: str, pred: str, timeout_s: float) -> None:
        """Start one check with a deadline `timeout_s` from now."""
        self.job, self.deadline = job, time.monotonic() + timeout_s
        self.requests.write(json.dumps([gold, pred]).encode() + b"\n")

    def stop(self) -> None:
        """Kill the process and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        self.requests.close()
        self.replies.close()


class Verifier:
    """Bounded answer checking: `verify(gold, pred)` and parallel `verify_many(pairs)`, backed by killable workers.

    Gold goes first, as math-verify expects. Not thread safe; close it (or use it as a context manager) when done.
    A worker killed for overrunning is replaced at once; the replacement starts in the background.
    """

    def __init__(
        self,
        workers: int = 1,
        timeout_s: float = 2.0,
        max_chars: int = DEFAULT_MAX_CHARS,
        memory_limit_mb: int | None = 2048,
    ) -> None:
        if workers < 1 or timeout_s <= 0 or max_chars < 1:
            raise ValueError(
                f"need workers >= 1, timeout_s > 0, max_chars >= 1; got {workers}, {timeout_s}, {max_chars}"
            )
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        self.restarts = 0
        self._settings = (max(1, math.ceil(timeout_s)), memory_limit_mb)
        self._workers = [_Worker(*self._settings) for _ in range(workers)]

    def verify(self, gold: str, pred: str, timeout_s: float | None = None) -> bool:
        """True when `pred` is equivalent to `gold`; False when not, or when the check overruns or fails."""
        return self.verify_many([(gold, pred)], timeout_s)[0]

    def verify_many(self, pairs: Iterable[tuple[str, str]], timeout_s: float | None = None) -> list[bool]:
        """Verdicts for (gold, pred) pairs, in order, with the math-verify checks spread over the workers.

        `timeout_s` overrides the verifier's per-check limit for this call.
        """
        verdicts: list[bool | None] = []
        pending: deque[tuple[int, str, str]] = deque()
        for index, (gold, pred) in enumerate(pairs):
            verdict = quick_verdict(gold, pred, self.max_chars)
            verdicts.append(verdict)
            if verdict is None:
                pending.append((index, prepare(gold), prepare(pred)))
        if pending:
            self._run(pending, verdicts, self.timeout_s if timeout_s is None else timeout_s)
        return [bool(verdict) for verdict in verdicts]

    def _run(self, pending: deque[tuple[int, str, str]], verdicts: list[bool | None], timeout_s: float) -> None:
        if not self._workers:
            raise RuntimeError("Verifier is closed")
        while pending or any(worker.job is not None for worker in self._workers):
            for worker in self._workers:
                if worker.ready and worker.job is None and pending:
                    try:
                        worker.send(*pending.popleft(), timeout_s)
                    except OSError:
                        worker.deadline = 0.0
            waiting = [worker for worker in self._workers if not worker.ready or worker.job is not None]
            now = time.monotonic()
            deadline = min(w.deadline if w.ready else w.started_at + STARTUP_TIMEOUT_S for w in waiting)
            for replies in wait([w.replies for w in waiting], timeout=max(0.0, deadline - now)):
                self._receive(next(w for w in waiting if w.replies is replies), verdicts)
            now = time.monotonic()
            for slot, worker in enumerate(self._workers):
                if not worker.ready and now > worker.started_at + STARTUP_TIMEOUT_S:
                    raise RuntimeError(f"math-verify worker did not start within {STARTUP_TIMEOUT_S:.0f} s")
                if worker.job is not None and now > worker.deadline:
                    verdicts[worker.job] = False
                    self._replace(slot)

    def _receive(self, worker: _Worker, verdicts: list[bool | None]) -> None:
        message = worker.replies.readline().strip()
        if not message:
            if not worker.ready:
                raise RuntimeError(f"math-verify worker exited at start (code {worker.process.poll()})") from None
            if worker.job is not None:
                verdicts[worker.job] = False
            self._replace(self._workers.index(worker))
            return
        if message == _READY:
            worker.ready = True
        elif worker.job is not None:
            verdicts[worker.job] = message == b"1"
            worker.job, worker.deadline = None, math.inf

    def _replace(self, slot: int) -> None:
        self._workers[slot].stop()
        self._workers[slot] = _Worker(*self._settings)
        self.restarts += 1

    def close(self) -> None:
        """Stop every worker process."""
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def __enter__(self) -> Verifier:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


if __name__ == "__main__":
    try:
        serve(int(sys.argv[1]), None if sys.argv[2] == "none" else int(sys.argv[2]))
    except BrokenPipeError:
        sys.exit(0)  # the parent stopped (on an error it reports itself): nothing is waiting for this worker
