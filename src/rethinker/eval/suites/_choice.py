"""Multiple-choice letters: MMMU's official letter parser (and MMMU-Pro's variant of it), and a seeded fallback.

The official parser, in order: look for "(A)" forms; else a bare letter between spaces (MMMU) or a letter followed by
a space or a full stop (MMMU-Pro); else, for responses longer than five words, the text of an option. Several
candidates resolve to the one that appears last. MMMU-Pro first takes a unique letter after the last "Answer:".
When nothing matches, the official code draws a random letter from the process-wide generator seeded once with 42,
so a verdict depends on the order of all earlier draws; here the draw comes from a generator seeded with the example's
id (`fallback_letter`), so it is reproducible, order-independent and the same in every process.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from rethinker.eval.suites._answer import explicit_answer, final_text
from rethinker.eval.suites._text import clean_candidate

_EDGE_PUNCTUATION = (",", ".", "!", "?", ";", ":", "'")
_LEADING_LETTER = re.compile(r"^\(?([A-Z])(?:\)|\.|:|：|\s|$)")
_LETTER_LIST = re.compile(r"\(?[A-Z]\)?(?:(?:\s*(?:,|;|/|&|and|or)\s*|\s+)\(?[A-Z]\)?)*")
_CAPITAL = re.compile(r"[A-Z]")


def option_letters(count: int) -> list[str]:
    """The letters naming `count` options: A, B, C, ..."""
    return [chr(ord("A") + index) for index in range(count)]


def answer_letters(answer: str, letters: Sequence[str]) -> frozenset[str] | None:
    """The letters named by an answer made only of option letters ("B", "(B)", "A, C", "A or B"), else None."""
    text = answer.strip()
    if len(text) > 200 or not _LETTER_LIST.fullmatch(text):
        return None
    named = frozenset(_CAPITAL.findall(text))
    return named if named <= set(letters) else None


def leading_letter(answer: str, letters: Sequence[str]) -> str | None:
    """The option letter an extracted answer starts with as a token ("B", "(B)", "B. 42", "B: text"), or None.

    An answer naming several letters and nothing else ("A or B", "A, C") names no single letter: None.
    """
    named = answer_letters(answer, letters)
    if named is not None:
        return next(iter(named)) if len(named) == 1 else None
    match = _LEADING_LETTER.match(answer.strip())
    return match.group(1) if match and match.group(1) in letters else None


def _trim_edges(response: str) -> str:
    for char in _EDGE_PUNCTUATION:
        response = response.strip(char)
    return f" {response} "


def _last_of(candidates: list[str], positions: list[int]) -> str:
    best = max(range(len(candidates)), key=lambda index: positions[index])
    return candidates[best]


def parse_choice(response: str, options: Sequence[str], pro: bool = False) -> str | None:
    """The letter MMMU's official parser reads from a response (MMMU-Pro's variant with `pro`), None if none.

    `options` are the option texts, in letter order. None stands where the official code draws a random letter.
    """
    letters = option_letters(len(options))
    if pro:
        unique = _letter_after_answer(response, letters)
        if unique is not None:
            return unique
    padded = _trim_edges(response)
    bracketed = [letter for letter in letters if f"({letter})" in padded]
    if bracketed:
        return _last_of(bracketed, [padded.rfind(f"({letter})") for letter in bracketed])
    spaced = _spaced_letters(padded, letters, pro)
    if spaced:
        return _last_of(spaced, [padded.rfind(f" {letter} ") for letter in spaced])
    if len(padded.split()) > 5:
        lowered = padded.lower()
        named = [letter for letter, text in zip(letters, options, strict=True) if text.lower() in lowered]
        if named:
            return _last_of(named, [lowered.rfind(options[letters.index(letter)].lower()) for letter in named])
    return None


def _letter_after_answer(response: str, letters: Sequence[str]) -> str | None:
    position = response.rfind("Answer:")
    if position < 0:
        return None
    tail = response[position + len("Answer:") :].strip()
    present = [letter for letter in letters if letter in tail]
    return present[0] if len(present) == 1 else None


def _spaced_letters(padded: str, letters: Sequence[str], pro: bool) -> list[str]:
    if not pro:
        return [letter for letter in letters if f" {letter} " in padded]
    found = [letter for letter in letters if f"{letter} " in padded]
    return found or [letter for letter in letters if f"{letter}." in padded]


def fallback_letter(letters: Sequence[str], key: str) -> str:
    """A random letter drawn from a generator seeded with `key` (the benchmark and example id): reproducible."""
    return random.Random(key).choice(list(letters))


def read_letter(response: str, options: Sequence[str], fallback_key: str, pro: bool = False) -> tuple[str, str, str]:
    """The chosen letter, the text it was read from, and the rule that fired, for a multiple-choice response.

    The final answer is first extracted by the shared rules (boxed, answer tags, "answer is" / "Answer:"); there a
    leading letter, an option's text (compared after the same cleaning) or the official parser decides. Failing
    that, the official parser reads the whole response; failing that, the seeded fallback letter is drawn (rule
    `random_fallback`).
    """
    letters = option_letters(len(options))
    text = final_text(response)
    found = explicit_answer(text)
    if found is not None:
        answer, rule = found
        letter = leading_letter(answer, letters)
        if letter is not None:
            return letter, answer, rule
        lowered = [clean_candidate(option).lower() for option in options]
        if answer and answer.lower() in lowered:
            return letters[lowered.index(answer.lower())], answer, f"{rule}+option_text"
        letter = parse_choice(answer, options, pro)
        if letter is not None:
            return letter, answer, f"{rule}+official_parser"
    letter = parse_choice(text, options, pro)
    if letter is not None:
        return letter, letter, "official_parser"
    if not letters:
        return "", "", "no_options"
    return fallback_letter(letters, fallback_key), "", "random_fallback"
