"""LaTeX metrics: expression equality (math-verify, falling back to simplified text) and text-with-math equality."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rethinker.eval.suites._answer import MAX_ANSWER_CHARS, latex_equivalent
from rethinker.eval.suites.megabench.metrics.strings import simple_str_match

_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{.*?\}(?:\[[^\[\]]*\])?")
_DELIMITERS = re.compile(r"\\[()\[\]]")
_MATH_PART = re.compile(r"(\$[^$]*\$)")
_MACRON = "\u0304"


def _greek_command(char: str) -> str:
    """A Greek letter as its LaTeX command (α -> \\alpha, Δ -> \\Delta); any other character unchanged."""
    name = unicodedata.name(char, "")
    if not name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")) or " WITH " in name:
        return char
    word = name.rsplit(" ", 1)[-1].lower()
    return f"\\{word.capitalize() if 'CAPITAL' in name else word} "


def normalize_latex(text: str) -> str:
    """LaTeX with unicode Greek letters as commands, bars and macrons as \\overline, and no math delimiters."""
    text = text.replace("\\bar", "\\overline")
    pieces: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if char == _MACRON and pieces:
            pieces[-1] = f"\\overline{{{pieces[-1]}}}"
        elif char != _MACRON:
            pieces.append(_greek_command(char))
    text = unicodedata.normalize("NFC", "".join(pieces))
    return _DELIMITERS.sub("", _ENVIRONMENT.sub("", text))


def latex_expr_equality(response: Any, gold: Any) -> float:
    """1 when the two LaTeX expressions are mathematically equal (math-verify) or equal as simplified text."""
    if not isinstance(response, str) or not isinstance(gold, str) or len(response) > MAX_ANSWER_CHARS:
        return 0.0
    predicted, expected = normalize_latex(response), normalize_latex(gold)
    return float(bool(simple_str_match(predicted, expected)) or latex_equivalent(expected, predicted))


def split_text_and_math(text: str) -> tuple[str, str]:
    """The plain text (commas dropped) and the `$...$` parts joined by spaces (delimiters and commas dropped)."""
    parts = _MATH_PART.split(text)
    math = [part[1:-1].strip().replace(",", "") for part in parts if part.startswith("$") and part.endswith("$")]
    plain = [part.strip() for part in parts if not (part.startswith("$") and part.endswith("$"))]
    return "".join(plain).replace(",", ""), " ".join(math)


def text_with_latex_expr_equality(response: Any, gold: Any) -> float:
    """1 when the plain text matches (simplified) and the `$...$` math parts are equal expressions."""
    if not isinstance(response, str) or not isinstance(gold, str):
        return 0.0
    (predicted_text, predicted_math), (expected_text, expected_math) = map(split_text_and_math, (response, gold))
    return float(
        bool(simple_str_match(predicted_text, expected_text))
        and bool(latex_expr_equality(predicted_math, expected_math))
    )
