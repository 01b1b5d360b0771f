"""MATH-V answer equivalence: the official `is_equal` rules as pure functions over a pluggable numeric evaluator.

Two answers match when, lower-cased, they are the same text; or when their tuple forms are ("(a,b)" and "[a,b]" with
each element's value rounded to 2 decimals); or when both have a numeric value and the values agree rounded to 2
decimals. `number_of` gives a text's value (None where it has none); `BoundedLatexNumbers` is the bounded one.
"""

from __future__ import annotations

from collections.abc import Callable

from rethinker.eval.suites.mathvision_numeric import Number

NumberOf = Callable[[str], Number | None]
BRACKETS = (("(", ")"), ("[", "]"))
ELEMENTS_KEPT_AS_TEXT = ("a", "-a")


def tuple_form(text: str, number_of: NumberOf) -> str:
    """A bracketed comma list with each element's value rounded to 2 decimals; the text itself if any element fails."""
    elements = text[1:-1].split(",")
    if (text[:1], text[-1:]) not in BRACKETS or len(elements) < 2:
        return text
    rounded = []
    for element in elements:
        if "infty" in element or element in ELEMENTS_KEPT_AS_TEXT:
            rounded.append(element)
            continue
        value = number_of(element)
        if value is None:
            return text
        rounded.append(str(round(value, 2)))
    return text[0] + ",".join(rounded) + text[-1]


def answers_match(gold: str, answer: str, number_of: NumberOf) -> bool:
    """The official MATH-V equivalence of an extracted answer and a gold answer (or gold option text)."""
    gold, answer = gold.lower(), answer.lower()
    if not gold.replace(" ", "") or not answer.replace(" ", ""):
        return False
    if gold.strip() == answer.strip():
        return True
    gold, answer = tuple_form(gold, number_of), tuple_form(answer, number_of)
    if gold == answer:
        return True
    gold_value = number_of(gold)
    if gold_value is None:
        return False
    answer_value = number_of(answer)
    return answer_value is not None and round(gold_value, 2) == round(answer_value, 2)
