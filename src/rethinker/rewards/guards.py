"""Reward-hacking guards: pure predicates that force a reward of 0 whatever the verifier would say.

- `empty`: no answer, or one made only of whitespace, punctuation and math delimiters.
- `hedge`: several options offered at once ("A or B", "2 or 3", "A, C"), unless the gold itself has several parts or
  the answer is the exact text of one option.
- `several_boxed`: the final run of adjacent boxed answers holds different values (`\\boxed{2}, \\boxed{3}`), unless the
  gold has several parts. Boxed answers separated by reasoning are not a hedge: only the last one is scored.
- `copied_question`: the answer is a long span of the question (at least `MIN_COPY_CHARS` characters once spaces and
  LaTeX sizing are dropped) and is not the gold itself (or the gold option's text). Short spans are exempt because
  numbers and names from the question are often the honest answer; long ones (a whole expression or sentence) are how a
  policy games symbolic equivalence ("simplify X" answered with X).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rethinker.data.schema import Example
from rethinker.rewards.extract import final_boxed_group
from rethinker.rewards.verify import canonical, gold_letter, prepare

MIN_COPY_CHARS = 12

_EMPTY = re.compile(r"[\s$.,;:!?*_`'\"()\[\]{}\\-]*")
_OR_WORD = re.compile(r"\b(?:or|either)\b", re.IGNORECASE)
_LETTER_LIST = re.compile(r"(?:^|[\s(])[A-K]\)?\s*(?:,|/|&|\bor\b|\band\b)\s*\(?[A-K](?:$|[\s.:),])", re.IGNORECASE)
_FONT_COMMAND = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mathit|mbox|boldsymbol)\b")
_PART_SEPARATOR = re.compile(r"[,;]|\bor\b|\band\b")


def is_empty(answer: str | None) -> bool:
    """True when there is no answer or it holds nothing but whitespace and punctuation."""
    return answer is None or _EMPTY.fullmatch(answer.replace("\\quad", "")) is not None


def has_several_parts(gold: str) -> bool:
    """True when a gold answer lists several values at the top level (`1, 2`, `x=1 or x=2`), not inside brackets."""
    depth = 0
    top_level: list[str] = []
    for char in prepare(gold):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        top_level.append(char if depth == 0 else " ")
    return _PART_SEPARATOR.search("".join(top_level)) is not None


def is_hedge(answer: str, gold: str) -> bool:
    """True when `answer` offers several options ("A or B", "either 2 or 3", "A, C", "\\text{A}, \\text{C}") for a
    single-valued gold."""
    if has_several_parts(gold):
        return False
    plain = _FONT_COMMAND.sub(" ", answer).replace("{", " ").replace("}", " ")
    return _OR_WORD.search(plain) is not None or _LETTER_LIST.search(plain) is not None


def has_several_boxed(response: str, gold: str) -> bool:
    """True when the response's final boxed group holds different values while the gold is single-valued."""
    return len(final_boxed_group(response)) > 1 and not has_several_parts(gold)


def copies_question(answer: str, question: str, golds: Sequence[str]) -> bool:
    """True when `answer` is a long span of `question` and differs from every accepted gold text."""
    span = canonical(answer)
    if len(span) < MIN_COPY_CHARS or span not in canonical(question):
        return False
    return all(span != canonical(prepare(gold)) for gold in golds)


def gold_texts(example: Example) -> list[str]:
    """Texts that count as the gold: the answer and, for a multiple-choice letter, that option's text."""
    letter = gold_letter(prepare(example.answer))
    index = ord(letter) - ord("A") if letter else -1
    return [example.answer, example.choices[index]] if 0 <= index < len(example.choices) else [example.answer]


def triggered_guard(response: str, answer: str | None, example: Example) -> str | None:
    """The name of the first guard that fires for this response and extracted answer, or None."""
    if answer is None or is_empty(answer):
        return "empty"
    is_option_text = canonical(answer) in {canonical(choice) for choice in example.choices}
    if not is_option_text and is_hedge(answer, example.answer):
        return "hedge"
    if has_several_boxed(response, example.answer):
        return "several_boxed"
    if copies_question(answer, example.question, gold_texts(example)):
        return "copied_question"
    return None
