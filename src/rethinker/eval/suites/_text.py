"""Text helpers shared by benchmark scorers: edit distance, nearest choice, and explicit final-answer statements.

Explicit statements are `\\boxed{}`, `<answer>` tags and answer markers ("the answer is", "answer:", "答案是", "故选",
with the next line when the marker ends its line); `_reading` builds the weaker signals (option lines, closing
sentences, committed numbers) on top. Every function returns the rule that fired so evaluation records can say how each
answer was found. Callers bound the input size.
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
    r"(?:answer|option|choice)(?:\s+letter)?\s*(?:is|would be|should be|will be|=|:|：)\s*[:：]?(.*)"
    r"|答案\s*(?:是|为|應為|应为|[:：])\s*[:：]?(.*)"
    r"|选(?:项|择)?\s*[:：]?\s*(\(?[A-H]\)?(?![A-Za-z]).*)",
    re.IGNORECASE,
)
LISTED_OPTION = re.compile(r"\s*\(?[A-H][).:]")
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
    """What follows the last answer marker ('the answer is', 'answer:', 'the correct option is', '答案是', '故选'), up
    to the end of its line; a marker that ends its line ("The answer is:") is followed by the next non-empty line,
    unless the lines that follow list the options."""
    found = None
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = ANSWER_PHRASE.search(line)
        if match is None:
            continue
        found = next(group for group in match.groups() if group is not None)
        if not clean_candidate(found):
            following = [rest for rest in lines[index + 1 : index + 4] if rest.strip()][:2]
            listed = len(following) == 2 and all(LISTED_OPTION.match(rest) for rest in following)
            found = following[0] if following and not listed else found
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


def final_list(text: str) -> tuple[str, str]:
    """The last bracketed list of the boxed answer or else the response, written as `[a, b]`, and the rule used."""
    for source, rule in ((last_boxed(text) or "", "boxed"), (text, "bracket_list")):
        found = BRACKET_LIST.findall(source)
        if found:
            items = [item.strip() for item in found[-1][1:-1].split(",")]
            return "[" + ", ".join(items) + "]", rule
    return "", "none"
