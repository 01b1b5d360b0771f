"""Pure, bounded extraction of the final answer from a model response.

Rules, tried in order on the text after the reasoning block (only its last `MAX_TAIL_CHARS` characters are read):
`boxed` (last brace-balanced `\\boxed{...}` or `\\fbox{...}`), `answer_tag` (last `<answer>...</answer>`), `answer_line`
(last `Answer: ...` line), `answer_phrase` ("the answer is ..."), `choice_letter` (a last line that is an option letter
such as `B`, `(B)`, `B. 12` or `\\textbf{B}`). `none` when nothing is found. Every regex here is linear: no nested
quantifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TAIL_CHARS = 8_000
BOXED_GROUP_GAP_CHARS = 16

_BOXED_TOKENS = re.compile(r"\\(?:boxed|fbox)\s*\{|\\[{}]|[{}]")
_ANSWER_LINE = re.compile(r"\banswer\b[\s*_]*[:：][\s*_]*", re.IGNORECASE)
_ANSWER_PHRASE = re.compile(r"\banswer\s+(?:is|should\s+be|would\s+be)\b[\s*_]*[:：]?[\s*_]*", re.IGNORECASE)
_BECAUSE = re.compile(r",\s*(?:because|since)\b", re.IGNORECASE)
_ANSWER_PREFIX = re.compile(r"^[\s*_]*(?:final\s+)?answer[\s*_]*[:：][\s*_]*", re.IGNORECASE)
_CHOICE_LINE = re.compile(r"\(([A-K])\)(?:\s.*)?|([A-K])(?:[.:)](?:\s.*)?)?")
_MATH_DELIMITERS = re.compile(r"\\[(\[](.*)\\[)\]]", re.DOTALL)
_SENTENCE_END = re.compile(r"\.\s")
_WAIT = re.compile(r"\bwait\b", re.IGNORECASE)
_EDGE_JUNK = " \t\r\n$*_`"
_TEXT_WRAPPER = re.compile(
    r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mathit|mbox|boldsymbol)\s*\{(.*)\}", re.DOTALL
)
MAX_UNWRAPPED = 3


@dataclass(frozen=True)
class Extraction:
    """An extracted final answer (None when no rule fired) and the name of the rule that found it."""

    answer: str | None
    rule: str


@dataclass(frozen=True)
class BoxedSpan:
    """One top-level `\\boxed{...}` in a text: where the command starts and where its content starts and ends."""

    start: int
    content_start: int
    content_end: int


def strip_think(text: str) -> str:
    """The text after the reasoning block: after the last `</think>`; an unclosed `<think>` hides all that follows."""
    close = text.rfind("</think>")
    if close != -1:
        return text[close + len("</think>") :]
    opening = text.find("<think>")
    return text if opening == -1 else text[:opening]


def answer_region(text: str) -> str:
    """The bounded part of a response that extraction reads: the tail of the text after the reasoning block."""
    return strip_think(text)[-MAX_TAIL_CHARS:]


def clean_answer(text: str) -> str:
    """An answer without surrounding whitespace, math delimiters, markdown emphasis, final full stop or "Answer:"."""
    stripped = _ANSWER_PREFIX.sub("", text.strip(_EDGE_JUNK)).strip(_EDGE_JUNK)
    if stripped.endswith("."):
        stripped = stripped[:-1].rstrip(_EDGE_JUNK)
    delimited = _MATH_DELIMITERS.fullmatch(stripped)
    return delimited.group(1).strip() if delimited else stripped


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0


def unwrap_text(answer: str) -> str:
    """An answer without the LaTeX text or font commands wrapping all of it (`\\text{B}`, `\\textbf{\\mathrm{B}}`)."""
    answer = answer.strip(_EDGE_JUNK)
    for _ in range(MAX_UNWRAPPED):
        match = _TEXT_WRAPPER.fullmatch(answer)
        if match is None or not _balanced(match.group(1)):
            break
        answer = match.group(1).strip(_EDGE_JUNK)
    return answer


def boxed_spans(text: str) -> list[BoxedSpan]:
    """Top-level brace-balanced `\\boxed{}`/`\\fbox{}` spans of `text`, in order; escaped `\\{ \\}` do not count."""
    open_braces: list[tuple[int, int] | None] = []
    spans: list[BoxedSpan] = []
    for token in _BOXED_TOKENS.finditer(text):
        lexeme = token.group()
        if lexeme in ("\\{", "\\}"):
            continue
        if lexeme == "{":
            open_braces.append(None)
        elif lexeme == "}":
            opened = open_braces.pop() if open_braces else None
            if opened is not None:
                spans.append(BoxedSpan(opened[0], opened[1], token.start()))
        else:
            open_braces.append((token.start(), token.end()))
    spans.sort(key=lambda span: span.start)
    top_level: list[BoxedSpan] = []
    for span in spans:
        if not top_level or span.start > top_level[-1].content_end:
            top_level.append(span)
    return top_level


def boxed_answers(text: str) -> list[str]:
    """Contents of every top-level boxed answer after the reasoning block, in order."""
    region = answer_region(text)
    return [region[span.content_start : span.content_end].strip() for span in boxed_spans(region)]


def distinct(answers: list[str]) -> list[str]:
    """`answers` without repeats (compared without whitespace), first occurrence kept."""
    seen: set[str] = set()
    kept: list[str] = []
    for answer in answers:
        key = "".join(answer.split())
        if key not in seen:
            seen.add(key)
            kept.append(answer)
    return kept


def _last_group(region: str, spans: list[BoxedSpan]) -> list[str]:
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        if len(region[span.content_end + 1 : group[0].start].strip()) > BOXED_GROUP_GAP_CHARS:
            break
        group.insert(0, span)
    return distinct([region[span.content_start : span.content_end].strip() for span in group])


def final_boxed_group(text: str) -> list[str]:
    """The distinct answers of the last run of boxed answers written next to each other (gaps of a few characters).

    `\\boxed{1}, \\boxed{2}` is one group of two answers (a set, or a hedge); a boxed answer, some reasoning, then a
    corrected boxed answer are two groups, so a rethink that changes its answer ends in a group of one.
    """
    region = answer_region(text)
    spans = boxed_spans(region)
    return _last_group(region, spans) if spans else []


def _from_boxed(region: str) -> str | None:
    spans = boxed_spans(region)
    return ", ".join(_last_group(region, spans)) if spans else None


def _from_answer_tag(region: str) -> str | None:
    close = region.rfind("</answer>")
    opening = region.rfind("<answer>", 0, close) if close != -1 else -1
    return None if opening == -1 else clean_answer(region[opening + len("<answer>") : close])


def _from_answer_line(region: str) -> str | None:
    lines = region.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        starts = [match.end() for match in _ANSWER_LINE.finditer(lines[index])]
        if not starts:
            continue
        answer = clean_answer(_first_sentence(lines[index][starts[-1] :]))
        following = [line for line in lines[index + 1 :] if line.strip()]
        return answer if answer or not following else clean_answer(following[0])
    return None


def _from_answer_phrase(region: str) -> str | None:
    starts = [match.end() for match in _ANSWER_PHRASE.finditer(region)]
    if not starts:
        return None
    return clean_answer(_first_sentence(region[starts[-1] :].split("\n", 1)[0]))


def _first_sentence(text: str) -> str:
    """`text` up to its first sentence end or ", because ..." clause: what a stated answer ends at."""
    return _BECAUSE.split(_SENTENCE_END.split(text, maxsplit=1)[0], maxsplit=1)[0]


def _from_choice_letter(region: str) -> str | None:
    lines = [unwrap_text(line) for line in region.splitlines() if line.strip(_EDGE_JUNK)]
    match = _CHOICE_LINE.fullmatch(lines[-1]) if lines else None
    return None if match is None else match.group(1) or match.group(2)


_RULES = (
    ("boxed", _from_boxed),
    ("answer_tag", _from_answer_tag),
    ("answer_line", _from_answer_line),
    ("answer_phrase", _from_answer_phrase),
    ("choice_letter", _from_choice_letter),
)


def extract_answer(text: str) -> Extraction:
    """The final answer of a response by the first rule that fires (see the module docstring), or rule `none`."""
    region = answer_region(text)
    for name, rule in _RULES:
        answer = rule(region)
        if answer is not None:
            return Extraction(answer, name)
    return Extraction(None, "none")


def count_waits(text: str) -> int:
    """How many times the word "wait" appears in `text`, in any case."""
    return sum(1 for _ in _WAIT.finditer(text))


def before_first_wait(text: str) -> str:
    """The part of `text` before its first "wait" (all of it when there is none): the answer before a rethink."""
    match = _WAIT.search(text)
    return text if match is None else text[: match.start()]
