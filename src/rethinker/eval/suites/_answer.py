"""Bounded reading of untrusted responses and bounded answer comparisons, shared by benchmark scorers.

Extraction rules themselves live in `_text` (boxed, answer tags, answer phrases); this module bounds what they read,
parses plain numbers, and hands LaTeX to `math-verify` only with its time limits on (which need the main thread).
"""

from __future__ import annotations

import math
import re
import threading

from math_verify import parse, verify

from rethinker.eval.suites._text import explicit_answers, strip_think

MAX_RESPONSE_CHARS = 32_000
MAX_ANSWER_CHARS = 300
MAX_NUMBER_CHARS = 64
MATH_TIMEOUT_SECONDS = 2

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def final_text(response: str) -> str:
    """The part of a response that may hold its answer: its last 32,000 characters, without `<think>` blocks."""
    return strip_think(response[-MAX_RESPONSE_CHARS:])


def explicit_answer(text: str) -> tuple[str, str] | None:
    """The most explicit final-answer statement (boxed, answer tag, answer phrase) and its rule, or None."""
    return next(explicit_answers(text), None)


def parse_number(text: str) -> float | None:
    """A plain decimal number ("1,234.5", "-3", "2e-3", "45%"), or None for anything else."""
    text = text.strip().replace(",", "").removesuffix("%").strip()
    if len(text) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def latex_equivalent(gold: str, predicted: str, float_rounding: int = 6) -> bool:
    """Whether two short LaTeX/plain answers are mathematically equal by `math-verify` (gold first), time-bounded.

    Outside the main thread `math-verify` cannot bound its time (it uses `signal.alarm`), so the check is skipped
    and answers then match only by the string and number rules of each benchmark.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if not gold or not predicted or max(len(gold), len(predicted)) > MAX_ANSWER_CHARS:
        return False
    try:
        parsed_gold = parse(f"${gold.strip('$')}$", parsing_timeout=MATH_TIMEOUT_SECONDS)
        parsed_predicted = parse(f"${predicted.strip('$')}$", parsing_timeout=MATH_TIMEOUT_SECONDS)
        if not parsed_gold or not parsed_predicted:
            return False
        return bool(
            verify(parsed_gold, parsed_predicted, float_rounding=float_rounding, timeout_seconds=MATH_TIMEOUT_SECONDS)
        )
    except Exception:
        return False
