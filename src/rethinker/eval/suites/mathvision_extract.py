"""MATH-V answer extraction: the official rules (mathllm/MATH-V `evaluation/`) re-implemented as pure string functions.

The official pipeline reads the raw response in this order: an option letter written alone at the start or end; a
number after the last "is "; when no `\\boxed{` is present, the text after "the (final|correct) answer is|should be";
with several boxes, the last one. It then cleans the candidate (`clean_math_answer`): lower-case, the last box's
content, the value after "=" or "\\approx", LaTeX decorations, units and dollar signs removed, fractions and roots
braced, "a/b" written as "\\frac{a}{b}". Every step is linear in the input; the caller bounds the input size.
"""

from __future__ import annotations

from typing import NamedTuple

OPTION_LETTERS = "ABCDE"
ANSWER_PHRASES = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")
PHRASE_SPELLINGS = tuple(spelling for phrase in ANSWER_PHRASES for spelling in (phrase, phrase.replace("the", "The")))
BOX_OPENING = "oxed{"
MAX_UNWRAPPED_BRACES = 3

CANDIDATE_CLEANUPS = (
    (" ", ""),
    ("\\,", ""),
    ("∞", "\\infty"),
    ("+\\infty", "\\infty"),
    ("\\\\", "\\"),
    ("\n", ""),
    ("\\text", ""),
    ("\\mbox", ""),
    ("bmatrix", "pmatrix"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("{m}^3", ""),
    ("m^3", ""),
    ("{units}", ""),
    ("units", ""),
    ("{km}", ""),
    ("km", ""),
)
LATEX_CLEANUPS = (
    ("\n", ""),
    ("\\!", ""),
    ("\\\\", "\\"),
    ("tfrac", "frac"),
    ("dfrac", "frac"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\$", ""),
    ("$", ""),
)
FINAL_CLEANUPS = tuple((wrapped.format(letter), letter) for wrapped in ("({})", "{{{}}}") for letter in "abcde")


class Extraction(NamedTuple):
    """The answer read from a response, and the name of the rule that produced it."""

    answer: str
    rule: str


def box_content(text: str) -> str | None:
    """What the official greedy pattern `oxed{(.*)}` captures (first "oxed{" to last "}"), in linear time."""
    start, end = text.find(BOX_OPENING), text.rfind("}")
    if start == -1 or end < start + len(BOX_OPENING):
        return None
    return text[start + len(BOX_OPENING) : end]


def _replace_all(text: str, replacements: tuple[tuple[str, str], ...]) -> str:
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def _is_float_literal(text: str) -> bool:
    """True where Python's `float()` accepts the text (the official `is_number`)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def option_letter_marker(text: str) -> str | None:
    """The first option letter written alone: text ending " C." or " (C).", or starting "C\\n", "(C)\\n", "(C) C\\n"."""
    for letter in OPTION_LETTERS:
        endings = (f" {letter}.", f" ({letter}).")
        beginnings = (f"{letter}\n", f"({letter})\n", f"({letter}) {letter}\n")
        if text.endswith(endings) or text.startswith(beginnings):
            return letter
    return None


def cut_after_phrases(text: str) -> str:
    """Keep what follows the last answer phrase (lower then capitalised), up to its line or sentence end."""
    for spelling in PHRASE_SPELLINGS:
        found = spelling in text
        text = text.split(spelling)[-1].strip()
        if found:
            text = text.split("\n")[0].split(". ")[0]
    return text


def fix_sqrt_braces(text: str) -> str:
    """Brace a one-character root argument: "\\sqrt3" becomes "\\sqrt{3}"."""
    head, *pieces = text.split("\\sqrt")
    fixed = [piece if piece.startswith("{") or not piece else "{" + piece[0] + "}" + piece[1:] for piece in pieces]
    return "\\sqrt".join([head, *fixed])


def fix_frac_braces(text: str) -> str:
    """Brace one-character fraction parts: "\\frac12" becomes "\\frac{1}{2}"; a malformed fraction leaves text as is."""
    head, *pieces = text.split("\\frac")
    fixed = []
    for piece in pieces:
        if piece.startswith("{"):
            fixed.append(piece)
        elif len(piece) < 2:
            return text
        elif piece[1] == "{":
            fixed.append("{" + piece[0] + "}" + piece[1:])
        else:
            fixed.append("{" + piece[0] + "}{" + piece[1] + "}" + piece[2:])
    return "\\frac".join([head, *fixed])


def slash_to_frac(text: str) -> str:
    """Write an integer ratio "a/b" (exactly as Python prints the integers) as "\\frac{a}{b}"."""
    parts = text.split("/")
    if len(parts) != 2:
        return text
    try:
        numerator, denominator = int(parts[0]), int(parts[1])
    except ValueError:
        return text
    if text != f"{numerator}/{denominator}":
        return text
    return f"\\frac{{{numerator}}}{{{denominator}}}"


def _value_after_single(text: str, separator: str) -> str:
    parts = text.split(separator)
    return parts[-1] if len(parts) == 2 else text


def strip_latex(text: str) -> str:
    """The official final normalisation of a candidate answer (its `_strip_string`)."""
    text = _replace_all(text, LATEX_CLEANUPS)
    text = text.split("\\text{ ")[0]
    text = text.replace("\\%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text.startswith("."):
        text = "0" + text
    text = _value_after_single(_value_after_single(text, "="), "\\approx")
    if "sqrt" in text:
        text = fix_sqrt_braces(text)
    text = text.replace(" ", "")
    if "sqrt" in text:
        text = fix_frac_braces(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return slash_to_frac(text)


def clean_math_answer(text: str) -> str:
    """The official `find_math_answer`: the last box's content (or the text), its final value, LaTeX noise removed."""
    text = text.lower().replace("{}", "")
    boxed = box_content(text)
    answer = text if boxed is None else boxed
    close, opening = answer.find("}"), answer.find("{")
    if close != -1 and (opening == -1 or close < opening):
        answer = answer[:close]
    answer = answer.split("=")[-1].split("\\approx")[-1]
    return strip_latex(_replace_all(answer, CANDIDATE_CLEANUPS))


def _unmatched_close(text: str) -> int:
    """The position of the first closing brace with no opening one, else -1."""
    depth = 0
    for index, char in enumerate(text):
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return index
    return -1


def leading_expression(text: str) -> str:
    """The well-formed expression an extraction starts with: cut where a closing brace has no opening one (text glued
    on after the answer, "\\frac{7}{32}}.theansweris:..."), then without the braces wrapping it all ("{4}")."""
    cut = _unmatched_close(text)
    text = text if cut == -1 else text[:cut]
    for _ in range(MAX_UNWRAPPED_BRACES):
        if len(text) < 2 or text[0] != "{" or text[-1] != "}" or _unmatched_close(text[1:-1]) != -1:
            break
        text = text[1:-1]
    return text


def extract_answer(response: str) -> Extraction:
    """The official MATH-V extraction of the final answer from a raw response, with the rule that decided it."""
    candidate = response.strip()
    rule = "whole_response"
    letter = option_letter_marker(candidate)
    if letter is not None:
        candidate, rule = letter, "option_letter"
    after_is = candidate.split("is ")[-1].rstrip(".")
    if _is_float_literal(after_is):
        candidate, rule = after_is, "number_after_is"
    if BOX_OPENING not in candidate:
        if rule == "whole_response" and any(spelling in candidate for spelling in PHRASE_SPELLINGS):
            rule = "answer_phrase"
        candidate = cut_after_phrases(candidate)
    elif candidate.count(BOX_OPENING) > 1:
        candidate = "\\boxed{" + candidate.split(BOX_OPENING)[-1]
    if box_content(candidate.lower()) is not None:
        rule = "boxed"
    answer = _replace_all(clean_math_answer(candidate), FINAL_CLEANUPS).rstrip(".").lstrip(":").strip()
    return Extraction(answer, rule)
