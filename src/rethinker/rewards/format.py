"""The Vision-R1 output format: `<think>...</think>` then `<answer>...</answer>`, and nothing else around them.

HFRRF (hard formatting result reward) pays 1 only when this format holds and the answer is right; Vision-R1-Zero adds
a format reward and an accuracy reward 1:1. Surrounding whitespace is tolerated. Each tag must appear exactly once,
which is stricter than a non-greedy regex (that would accept `<think>a</think><think>b</think><answer>c</answer>`).
"""

from __future__ import annotations

from rethinker.rewards.extract import clean_answer

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def think_answer_parts(response: str) -> tuple[str, str] | None:
    """(reasoning, answer) when the whole response is `<think>...</think>\\s*<answer>...</answer>`, else None."""
    text = response.strip()
    if not text.startswith("<think>") or not text.endswith("</answer>"):
        return None
    if any(text.count(tag) != 1 for tag in _TAGS):
        return None
    think_end = text.index("</think>")
    rest = text[think_end + len("</think>") :].lstrip()
    if not rest.startswith("<answer>"):
        return None
    return text[len("<think>") : think_end], rest[len("<answer>") : -len("</answer>")]


def has_think_answer_format(response: str) -> bool:
    """True when the whole response follows the think-then-answer format."""
    return think_answer_parts(response) is not None


def formatted_answer(response: str) -> str | None:
    """The `<answer>` content of a well-formatted response, an optional "Final Answer:" prefix stripped; else None."""
    parts = think_answer_parts(response)
    return None if parts is None else clean_answer(parts[1])
