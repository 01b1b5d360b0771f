"""String metrics: exact (reading a lone option letter), case-insensitive, simplified, near, edit similarity."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from rethinker.eval.suites.megabench.metrics.convert import as_list
from rethinker.eval.suites.megabench.parsing import code_block

MAX_EDIT_CHARS = 5_000
NEAR_THRESHOLD = 0.9
_LEADING_LETTER = re.compile(r"\(?([A-Za-z])\)?(?:\s*[.:,]|$|\s)")
_SIMPLIFIED_AWAY = str.maketrans("", "", " -\n\t.")
_ARTICLES = {"the", "a"}


def as_text(value: Any) -> str:
    """A field value as text: strings as they are, anything else (a parsed list, a number) as `str(value)`."""
    return value if isinstance(value, str) else str(value)


def option_letter(response: str) -> str:
    """The option letter a response starts with ("(B) cat", "B. cat", "B"), else the response unchanged."""
    match = _LEADING_LETTER.match(response)
    return match.group(1) if match else response


def exact_str_match(response: Any, gold: Any) -> float:
    """1 when the texts are identical; against a one-letter gold, a response starting with an option letter counts."""
    response, gold = as_text(response), as_text(gold)
    if len(gold) == 1 and gold.isalpha() and len(response) > 1:
        response = option_letter(response)
    return float(response == gold)


def exact_str_match_case_insensitive(response: Any, gold: Any) -> float:
    """`exact_str_match` on lower-cased texts; a response that is not text scores 0."""
    if not isinstance(response, str):
        return 0.0
    return exact_str_match(response.lower(), as_text(gold).lower())


def simplify(text: str) -> str:
    """Lower-cased text without spaces, hyphens, tabs, line breaks and full stops."""
    return text.translate(_SIMPLIFIED_AWAY).lower()


def simple_str_match(response: Any, gold: Any) -> float:
    """`exact_str_match` after `simplify` on both sides."""
    return exact_str_match(simplify(as_text(response)), simplify(as_text(gold)))


def code_result_exact_str_match(response: Any, gold: Any) -> float:
    """`exact_str_match` against the gold's code block content (verbatim) when the gold is a fenced code block."""
    content, _ = code_block(as_text(gold), verbatim=True)
    return exact_str_match(response, content)


def edit_similarity(response: str, gold: str, cutoff: float = 0.0) -> float:
    """1 - Damerau-Levenshtein distance / longer length (1 for two empty texts); below `cutoff` it is 0.

    Both texts are cut to their first `MAX_EDIT_CHARS` characters so the check stays fast on runaway output.
    """
    return DamerauLevenshtein.normalized_similarity(
        response[:MAX_EDIT_CHARS], gold[:MAX_EDIT_CHARS], score_cutoff=cutoff
    )


def normalized_similarity_damerau_levenshtein(response: Any, gold: Any) -> float:
    """Normalized Damerau-Levenshtein similarity of the two texts."""
    return edit_similarity(as_text(response), as_text(gold))


def ascii_approximation(text: str) -> str:
    """Lower-cased text with accents dropped (é -> e) and the words "the" and "a" removed."""
    words = " ".join(word for word in text.split(" ") if word.lower() not in _ARTICLES)
    decomposed = unicodedata.normalize("NFKD", words)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def near_str_match(response: Any, gold: Any) -> float:
    """Edit similarity of the accent-free, article-free, lower-cased texts, or 0 when it is below 0.9."""
    if not isinstance(response, str) or not isinstance(gold, str):
        return 0.0
    return edit_similarity(ascii_approximation(response), ascii_approximation(gold), cutoff=NEAR_THRESHOLD)


def multi_ref_phrase(response: Any, gold: Any) -> float:
    """1 when the response matches (`simple_str_match`) any of the gold references (a list; "，" counts as a comma)."""
    references = as_list(as_text(gold).replace("，", ","))
    return float(any(simple_str_match(response, as_text(reference)) for reference in references))
