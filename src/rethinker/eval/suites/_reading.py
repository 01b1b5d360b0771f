"""Reading the answer a response commits to, as a person would: the option it chooses, or its final number.

Options, strongest signal first: an explicit statement (`\\boxed{}`, `<answer>`, an answer marker in English or
Chinese, or the line after a marker that ends its line) read for a leading letter, a choice's text or value, or a
closing lone letter; a line that starts with a letter ("B) ...", "(B) ..."); a letter named as "option B" or "(B)"; the
last sentences, read for the one choice they name or a closing lone letter ("... is D."); for a yes/no question, a
statement's polarity. A response that names no choice, or refuses, has no answer (""): it is never matched to the
nearest choice.

Numbers: the number after an explicit marker or in `\\boxed{}`; else the number a concluding sentence commits to (the
one after "is", "are", "=", else one not restated from the question, else its last), then a bold number, then the
final sentence that has one. Number words ("two", "twelve") count.

The caller bounds the input size; every pattern here is linear (no nested quantifiers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from rethinker.eval.suites._choice import option_letters
from rethinker.eval.suites._text import clean_candidate, explicit_answers, fraction_value, numbers_in

MAX_SENTENCES = 6
RESTATED_LETTERS = 3
"""A text naming this many option letters restates the choices; it picks none of them."""
MAX_SENTENCE_CHARS = 600

SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
TABLE_LINE = re.compile(r"^.*\|.*$", re.MULTILINE)
BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")
LEADING_LETTER = re.compile(r"^[\W_]*(?:\(([A-Z])\)|([A-Z])(?=$|[.,:;)）。，\u4e00-\u9fff]))")
LINE_LETTER = re.compile(r"^[\s*#>_-]*(?:\(([A-Z])\)|([A-Z])[.:)）])(?:\s|$)")
OPTION_LETTER = re.compile(r"\(([A-Z])\)|\b(?:option|choice)\s+\(?([A-Z])\b", re.IGNORECASE)
CLOSING_LETTER = re.compile(r"(?:\b(?:is|be|was)|[:：为是选])\s*\**\(?([A-Z])\)?\**\s*[.。!！]?\s*$")
REFUSAL = re.compile(
    r"\b(?:can(?:not|'t|’t)\s+(?:process|help|determine|answer|tell|see|provide|be determined)|unable to"
    r"|(?:not|im)possible to (?:determine|tell|answer|say)|no (?:answer|information|image|options?|choices?)"
    r"\s+(?:is\s+|was\s+|were\s+|are\s+)?(?:provided|given|available|shown)"
    r"|not enough (?:information|context)|(?:do not|don't|doesn't|does not) (?:have|provide) enough)",
    re.IGNORECASE,
)
NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|none|cannot)\b|n['’]t\b", re.IGNORECASE)
YES_NO_START = re.compile(r"^[\W_]*(yes|no)\b", re.IGNORECASE)
COMPARISON = re.compile(
    r"\b(more|fewer|less|greater|smaller|larger|bigger|higher|lower)\b([^.?!\n]{1,150}?)\bthan\b([^.?!\n]{1,150})",
    re.IGNORECASE,
)
DIRECTIONS = {"more": 1, "greater": 1, "larger": 1, "bigger": 1, "higher": 1}
DIRECTIONS |= {"fewer": -1, "less": -1, "smaller": -1, "lower": -1}
COMPARED_NOISE = frozenset({"numbe", "there"})
CONCLUSION = re.compile(r"\b(?:therefore|thus|hence|so|in total|altogether|finally)\b|所以|因此|故", re.I)
COMMITTED_NUMBER = re.compile(
    r"(?:\b(?:is|are|was|were|be|equals?(?:\s+to)?|gives|get|makes)\b|[=≈：为是]|:(?=\s))\s*"
    r"(?:about\s+|approximately\s+|around\s+|roughly\s+|only\s+)?[*$\\(]{0,3}\s*([-−]?\d[\d,]*(?:\.\d+)?)",
    re.IGNORECASE,
)
VALUED_CHOICE = re.compile(r"\s*(-?\d[\d,]*(?:\.\d+)?)\s*(?:°|%|\^\{?\\circ\}?|[^\W\d_]{1,12})?\s*")
WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset("a an the of to in on at by for with and or is are be will would can could it its".split())
STEM_CHARS = 5
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
NUMBER_WORD = re.compile(
    r"(?<!the )(?<!this )(?<!that )(?<!each )(?<!any )(?<!every )(?<!which )\b(" + "|".join(NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """The sentences of a text (split at sentence ends and line breaks), each stripped and bounded in length."""
    return [part.strip()[-MAX_SENTENCE_CHARS:] for part in SENTENCE_BREAK.split(text) if part and part.strip()]


def with_digits(text: str) -> str:
    """The text with number words ("two", "Twelve") written as digits; "the one" and the like are left alone."""
    return NUMBER_WORD.sub(lambda match: str(NUMBER_WORDS[match.group(1).lower()]), text)


def is_refusal(sentence: str) -> bool:
    """Whether a sentence declines to answer ("I can't process this file", "no answer is provided")."""
    return REFUSAL.search(sentence) is not None


# ---------------------------------------------------------------- options


def _value(number: str | None) -> float | None:
    try:
        return None if number is None else float(number)
    except ValueError:
        return None


def choice_value(choice: str) -> float | None:
    """The value of a choice that is one number with at most a unit ("35°", "4.40米", "2.5 cm", "\\frac{1}{2}")."""
    fraction = fraction_value(choice)
    if fraction is not None:
        return float(fraction)
    match = VALUED_CHOICE.fullmatch(choice)
    return _value(match.group(1).replace(",", "")) if match else None


def stated_value(candidate: str) -> float | None:
    """The value a stated answer gives: a lone fraction's, else the number the text commits to."""
    fraction = fraction_value(candidate)
    return float(fraction) if fraction is not None else _value(committed_number(candidate))


def _choice_pattern(choice: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(choice.lower())}(?!\w|\.\d)")


def named_choice(candidate: str, choices: Sequence[str]) -> str | None:
    """The one choice a text names (its exact text, the text inside it, or its value), else None.

    A choice whose text lies inside another named choice yields to it; two unrelated choices named is ambiguous.
    """
    lowered = candidate.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    values = [choice_value(choice) for choice in choices]
    if all(value is not None for value in values):
        return _by_value(stated_value(candidate), choices, values)
    named = [choice for choice in choices if choice and _choice_pattern(choice).search(lowered)]
    named = [choice for choice in named if not any(choice != other and choice in other for other in named)]
    if len(set(named)) == 1:
        return named[0]
    return None if named else _by_value(stated_value(candidate), choices, values)


def _by_value(value: float | None, choices: Sequence[str], values: Sequence[float | None]) -> str | None:
    matching = [choice for choice, known in zip(choices, values, strict=True) if value is not None and known == value]
    return matching[0] if len(matching) == 1 else None


def _stems(text: str) -> set[str]:
    """The content words of a text cut to their first letters, so "decreases" and "decrease" meet."""
    words = WORD.findall(text.lower().replace("'s", ""))
    return {word.removesuffix("s")[:STEM_CHARS] for word in words if word.isalpha() and word not in STOP_WORDS}


def distinguished_choice(sentence: str, choices: Sequence[str]) -> str | None:
    """The one choice whose own words (those no other choice has) an affirmative sentence mostly uses, else None.

    "The population would decrease" names "Adult spider population would decrease" among choices that differ only in
    "decrease", "increase", "double", "remain the same"; "July" names "July and August" beside "March and April".
    """
    if NEGATION.search(sentence):
        return None
    stems = [_stems(choice) for choice in choices]
    said = _stems(sentence)
    named = []
    for index, own in enumerate(stems):
        others = set().union(*(other for position, other in enumerate(stems) if position != index))
        distinct = own - others
        if distinct and 2 * len(distinct & said) >= len(distinct):
            named.append(choices[index])
    return named[0] if len(named) == 1 else None


def read_choice(candidate: str, choices: Sequence[str]) -> str | None:
    """The option a stated answer names: a leading letter, a choice's text or value, or a closing lone letter."""
    letters = option_letters(len(choices))
    if len(set(OPTION_LETTER.findall(candidate))) >= RESTATED_LETTERS:
        return None
    leading = LEADING_LETTER.match(candidate)
    if leading is not None and (leading.group(1) or leading.group(2)) in letters:
        return leading.group(1) or leading.group(2)
    named = named_choice(candidate, choices)
    if named is not None:
        return named
    closing = CLOSING_LETTER.search(candidate)
    return closing.group(1) if closing is not None and closing.group(1) in letters else None


def _letter_lines(text: str, letters: Sequence[str]) -> dict[int, str]:
    """The lines that start with an option letter ("B) ...", "(B) ..."), by line number, with their letter."""
    found = {}
    for number, line in enumerate(text.splitlines()):
        match = LINE_LETTER.match(line)
        if match is not None and (match.group(1) or match.group(2)) in letters:
            found[number] = match.group(1) or match.group(2)
    return found


def _line_letter(text: str, letters: Sequence[str]) -> str | None:
    """The letter that lines start with, when exactly one letter does (several are a restated list)."""
    found = set(_letter_lines(text, letters).values())
    return found.pop() if len(found) == 1 else None


def without_listed_options(text: str, letters: Sequence[str]) -> str:
    """The text without the lines of a restated list of options (lines starting with several different letters)."""
    listed = _letter_lines(text, letters)
    if len(set(listed.values())) < RESTATED_LETTERS:
        return text
    return "\n".join(line for number, line in enumerate(text.splitlines()) if number not in listed)


def _named_letter(text: str, letters: Sequence[str]) -> str | None:
    """The last letter named as "(B)", "option B" or "choice B", skipping lines that restate several options."""
    named = None
    for line in without_listed_options(text, letters).splitlines():
        found = [first or second.upper() for first, second in OPTION_LETTER.findall(line)]
        if len(set(found)) >= RESTATED_LETTERS:
            continue
        valid = [letter for letter in found if letter in letters]
        named = valid[-1] if valid else named
    return named


def _compared(text: str) -> tuple[int, set[str], set[str]] | None:
    """A comparison "more X than Y" / "X is greater than Y": its direction (+1 or -1) and the words of X and Y."""
    match = COMPARISON.search(text)
    if match is None:
        return None
    left = _stems(match.group(2)) - COMPARED_NOISE or _stems(text[: match.start()][-150:]) - COMPARED_NOISE
    return DIRECTIONS[match.group(1).lower()], left, _stems(match.group(3)) - COMPARED_NOISE


def comparison_agrees(sentence: str, question: str) -> bool | None:
    """Whether a sentence's comparison says what the question's asks (False when it compares the other way round, as
    "more Y than X" answers "more X than Y?"), or None when either has none or the sides cannot be told apart."""
    asked, said = _compared(question), _compared(sentence)
    if asked is None or said is None:
        return None
    same = len(asked[1] & said[1]) + len(asked[2] & said[2])
    swapped = len(asked[1] & said[2]) + len(asked[2] & said[1])
    if same == swapped:
        return None
    return ((asked[0] == said[0]) == (same > swapped)) != (NEGATION.search(sentence) is not None)


def _polarity(text: str, question: str) -> str | None:
    """For a yes/no question: "yes"/"no" from the first answering sentence (its first word, else whether its
    comparison matches the question's, else its negation)."""
    for sentence in sentences(text.strip().split("\n\n")[-1])[:MAX_SENTENCES]:
        if is_refusal(sentence):
            return None
        start = YES_NO_START.match(sentence)
        if start is not None:
            return start.group(1).lower()
        agrees = comparison_agrees(sentence, question)
        if agrees is not None:
            return "yes" if agrees else "no"
        return "no" if NEGATION.search(sentence) else "yes"
    return None


def _closing_sentences(text: str) -> Iterator[str]:
    """The last sentences of a text, last first."""
    yield from reversed(sentences(text)[-MAX_SENTENCES:])


def chosen_option(text: str, choices: Sequence[str], question: str = "") -> tuple[str, str]:
    """The option a response picks (a letter or a choice's text; "" when it names none) and the rule that found it."""
    stripped = text.strip()
    if not stripped:
        return "", "empty"
    if stripped in choices:
        return stripped, "whole_response"
    letters = option_letters(len(choices))
    for candidate, rule in explicit_answers(text):
        found = read_choice(candidate, choices)
        if found is not None:
            return found, rule
    for rule, finder in (("letter_line", _line_letter), ("option_letter", _named_letter)):
        letter = finder(stripped, letters)
        if letter is not None:
            return letter, rule
    for sentence in _closing_sentences(without_listed_options(stripped, letters)):
        if is_refusal(sentence):
            return "", "refusal"
        found = read_choice(clean_candidate(sentence), choices)
        if found is not None:
            return found, "closing_sentence"
        found = distinguished_choice(sentence, choices)
        if found is not None:
            return found, "choice_words"
    if sorted(choice.lower() for choice in choices) == ["no", "yes"]:
        polarity = _polarity(stripped, question)
        if polarity is not None:
            return next(choice for choice in choices if choice.lower() == polarity), "polarity"
    return "", "none"


def chosen_letter(text: str, choices: Sequence[str], question: str = "") -> tuple[str, str] | None:
    """The letter of the option a response picks (by `chosen_option`) and the rule, or None when it picks none."""
    picked, rule = chosen_option(text, choices, question)
    if not picked:
        return None
    return (option_letters(len(choices))[list(choices).index(picked)] if picked in choices else picked), rule


# ---------------------------------------------------------------- numbers


def read_number(candidate: str) -> str | None:
    """The number an answer statement gives: its fraction value, else its first number (words count), else None."""
    value = fraction_value(candidate)
    if value is not None:
        return value
    found = numbers_in(with_digits(candidate))
    return found[0] if found else None


def _same_number(first: str, second: str) -> bool:
    try:
        return float(first) == float(second)
    except ValueError:
        return False


def committed_number(sentence: str, question: str = "") -> str | None:
    """The number a sentence commits to: the last one after "is"/"are"/"=", else the last one not restated from the
    question, else its last number; None when it has none."""
    text = with_digits(sentence)
    committed = COMMITTED_NUMBER.findall(text)
    if committed:
        return committed[-1].replace(",", "").replace("−", "-")
    found = numbers_in(text)
    if not found:
        return None
    given = numbers_in(question)
    fresh = [number for number in found if not any(_same_number(number, known) for known in given)]
    return (fresh or found)[-1]


def final_number(text: str, question: str = "") -> tuple[str, str]:
    """The final numeric answer of a response and the rule that found it; an empty string when it has no number."""
    for candidate, rule in explicit_answers(text):
        number = read_number(candidate)
        if number is not None:
            return number, rule
    prose = TABLE_LINE.sub("", CODE_BLOCK.sub("", text))
    parts = sentences(prose)
    for sentence in reversed(parts):
        keyword = CONCLUSION.search(sentence)
        if keyword is not None:
            bold = [number for piece in BOLD.findall(sentence) for number in numbers_in(piece)]
            number = bold[-1] if bold else committed_number(sentence[keyword.start() :], question)
            if number is not None:
                return number, "conclusion_number"
    bold = [number for piece in BOLD.findall(prose) for number in numbers_in(with_digits(piece))]
    if bold:
        return bold[0], "bold_number"
    for sentence in reversed(parts):
        number = committed_number(sentence, question)
        if number is not None:
            return number, "final_statement"
    return "", "none"
