"""Text helpers shared by benchmark scorers: edit distance, nearest choice, and rule-based answer extraction.

Extraction looks for explicit final-answer statements first (`\\boxed{}`, `<answer>` tags, "the answer is" phrases),
then for weaker signals (option letters, concluding sentences, bold text, the last number). Every function returns the
rule that fired so evaluation records can say how each answer was found. Callers bound the input size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

MAX_EXTRACTED_CHARS = 200

THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?!\w)")
DECIMAL = r"(\d+(?:\.\d+)?)"
FRACTION = re.compile(rf"^(-?)\\?d?t?frac\{{{DECIMAL}\}}\{{{DECIMAL}\}}$|^(-?){DECIMAL}\s*/\s*{DECIMAL}$")
ANSWER_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|should be|will be|=|:)\s*:?\s*(.+)", re.IGNORECASE
)
LEADING_LETTER = re.compile(r"^[\W_]*(?:\(([A-Z])\)|([A-Z])(?=$|[.,:;)]))")
OPTION_LETTER = re.compile(r"\(([A-Z])\)|\b(?:option|choice)\s+\(?([A-Z])\b")
BOLD = re.compile(r"\*\*(.+?)\*\*")
CONCLUSION = re.compile(r"\b(?:therefore|thus|hence|so)\b(?:[^.\n]|\.(?=\d))*", re.IGNORECASE)
CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
TABLE_LINE = re.compile(r"^.*\|.*$", re.MULTILINE)
BRACKET_LIST = re.compile(r"\[[^\[\]]{0,200}\]")
DEGREES = re.compile(r"\s*\^\s*\{?\s*\\circ\s*\}?")
TEXT_WRAPPER = re.compile(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}")


def edit_distance(first: str, second: str) -> int:
    """Levenshtein distance (unit cost insert, delete, substitute) between two strings."""
    if len(first) < len(second):
        first, second = second, first
    previous = list(range(len(second) + 1))
    for row, first_char in enumerate(first, start=1):
        current = [row]
        for column, second_char in enumerate(second, start=1):
            substitution = previous[column - 1] + (first_char != second_char)
            current.append(min(previous[column] + 1, current[column - 1] + 1, substitution))
        previous = current
    return previous[-1]


def nearest_choice(text: str, choices: Sequence[str]) -> str:
    """The choice with the smallest edit distance to `text`; the first such choice on ties."""
    distances = [edit_distance(text, choice) for choice in choices]
    return choices[distances.index(min(distances))]


def strip_think(text: str) -> str:
    """The text with every closed `<think>...</think>` block removed, and anything before a lone `</think>`."""
    text = THINK_BLOCK.sub("", text)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text


def last_boxed(text: str) -> str | None:
    r"""The content of the last brace-balanced `\boxed{...}` (or `\fbox{...}`) in `text`, or None."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    position = text.index("{", start) + 1
    depth = 1
    for index in range(position, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[position:index]
    return None


def answer_tag(text: str) -> str | None:
    """The content of the last `<answer>...</answer>` block, or None."""
    found = ANSWER_TAG.findall(text)
    return found[-1] if found else None


def answer_phrase(text: str) -> str | None:
    """What follows the last 'the answer is' / 'answer:' / 'the correct option is' phrase, up to the end of its line."""
    found = None
    for line in text.splitlines():
        match = ANSWER_PHRASE.search(line)
        if match:
            found = match.group(1)
    return found


def explicit_answers(text: str) -> Iterator[tuple[str, str]]:
    """Explicit final-answer statements, most explicit first, each cleaned and paired with the rule that found it."""
    for rule, finder in (("boxed", last_boxed), ("answer_tag", answer_tag), ("answer_phrase", answer_phrase)):
        found = finder(text)
        if found is not None:
            yield clean_candidate(found), rule


def clean_candidate(candidate: str) -> str:
    """A candidate without markdown emphasis, LaTeX text wrappers, dollar signs and surrounding punctuation."""
    candidate = TEXT_WRAPPER.sub(r"\1", candidate[: MAX_EXTRACTED_CHARS * 2])
    candidate = DEGREES.sub("°", candidate).replace("**", "").replace("$", "").strip()
    return candidate.strip(" .,:;\"'`")[:MAX_EXTRACTED_CHARS]


def numbers_in(text: str) -> list[str]:
    """Every decimal number written in `text` (thousands separators removed, unicode minus made ASCII), in order."""
    found = []
    for match in NUMBER.finditer(text):
        token = match.group(0)
        if any(char.isdigit() for char in token):
            found.append(token.replace(",", "").replace("−", "-"))
    return found


def fraction_value(text: str) -> str | None:
    r"""The decimal value of a text that is exactly one fraction (`3/4`, `\frac{3}{4}`), or None."""
    match = FRACTION.match(text.strip())
    if match is None:
        return None
    sign, numerator, denominator = match.group(1, 2, 3) if match.group(2) else match.group(4, 5, 6)
    if float(denominator) == 0:
        return None
    return str((-1 if sign else 1) * float(numerator) / float(denominator))


def read_number(candidate: str) -> str | None:
    """The number an answer statement gives: its fraction value, else its first number, else None."""
    value = fraction_value(candidate)
    if value is not None:
        return value
    found = numbers_in(candidate)
    return found[0] if found else None


def final_number(text: str) -> tuple[str, str]:
    """The final numeric answer of a response and the rule that found it; an empty string when it has no number."""
    for candidate, rule in explicit_answers(text):
        number = read_number(candidate)
        if number is not None:
            return number, rule
    prose = TABLE_LINE.sub("", CODE_BLOCK.sub("", text))
    for sentence in reversed(CONCLUSION.findall(prose)):
        found = [number for bold in BOLD.findall(sentence) for number in numbers_in(bold)] or numbers_in(sentence)
        if found:
            return found[-1], "conclusion_number"
    for bold in BOLD.findall(prose):
        found = numbers_in(bold)
        if found:
            return found[0], "bold_number"
    found = numbers_in(prose) or numbers_in(text)
    if found:
        return found[-1], "last_number"
    return "", "none"


def final_list(text: str) -> tuple[str, str]:
    """The last bracketed list of the boxed answer or else the response, written as `[a, b]`, and the rule used."""
    for source, rule in ((last_boxed(text) or "", "boxed"), (text, "bracket_list")):
        found = BRACKET_LIST.findall(source)
        if found:
            items = [item.strip() for item in found[-1][1:-1].split(",")]
            return "[" + ", ".join(items) + "]", rule
    return "", "none"


def read_choice(candidate: str, choices: Sequence[str]) -> str:
    """The option letter a candidate starts with, else the choice it equals or names, else the candidate itself."""
    letters = [chr(ord("A") + index) for index in range(len(choices))]
    leading = LEADING_LETTER.match(candidate)
    if leading is not None and (leading.group(1) or leading.group(2)) in letters:
        return leading.group(1) or leading.group(2)
    lowered = candidate.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    for choice in sorted(choices, key=len, reverse=True):
        if choice and re.search(rf"(?<![\w.]){re.escape(choice.lower())}(?![\w.])", lowered):
            return choice
    return candidate


def chosen_option(text: str, choices: Sequence[str]) -> tuple[str, str]:
    """The option a response picks (a letter, a choice text, or its closing words) and the rule that found it."""
    stripped = text.strip()
    if not stripped:
        return "", "empty"
    if stripped in choices:
        return stripped, "whole_response"
    for candidate, rule in explicit_answers(text):
        return read_choice(candidate, choices), rule
    letters = [first or second for first, second in OPTION_LETTER.findall(text)]
    valid = [letter for letter in letters if ord(letter) - ord("A") < len(choices)]
    if valid:
        return valid[-1], "option_letter"
    return read_choice(clean_candidate(stripped.splitlines()[-1]), choices), "last_line"
