"""Rethinking triggers as data, and the text a forced continuation starts from.

Forced rethinking (SPEC section 4) appends a trigger to a finished response y1 and lets the model continue:
y = y1 + trigger + y2. The paper names three triggers (self-questioning, self-correction, self-verification); the
authors' released code adds a bare "Wait". The rules that pick a trigger, and whether to cut y1 before its final
answer, are decisions in `algo/rethinking.py`; the cut itself (so the rethink has to produce the answer) lives here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SELF_QUESTIONING = "\n\nWait, does it seem right?"
SELF_CORRECTION = "\n\nWait, there might be a mistake"
SELF_VERIFICATION = "\n\nWait, let's double check"
BARE_WAIT = "\n\nWait"
PAPER_TRIGGERS: tuple[str, ...] = (SELF_QUESTIONING, SELF_CORRECTION, SELF_VERIFICATION)


@dataclass(frozen=True)
class TriggerSet:
    """The triggers a run may append: `pool` for the uniform rule, and the four roles the released rule picks from."""

    pool: tuple[str, ...] = PAPER_TRIGGERS
    bare: str = BARE_WAIT
    questioning: str = SELF_QUESTIONING
    verification: str = SELF_VERIFICATION
    correction: str = SELF_CORRECTION

    def __post_init__(self) -> None:
        if not self.pool:
            raise ValueError("a trigger set needs at least one trigger in its pool")
        for trigger in (*self.pool, self.bare, self.questioning, self.verification, self.correction):
            if not isinstance(trigger, str) or not trigger.strip():
                raise ValueError(f"every trigger must be a non-blank string, got {trigger!r}")


TRIGGER_PRESETS: dict[str, TriggerSet] = {
    "paper": TriggerSet(),
    "released": TriggerSet(pool=(BARE_WAIT, SELF_QUESTIONING, SELF_VERIFICATION, SELF_CORRECTION)),
    "wait": TriggerSet(pool=(BARE_WAIT,)),
}
"""Named trigger sets: the paper's three, the released code's four, and the bare "Wait" used at test time."""


def trigger_set(spec: str | Sequence[str]) -> TriggerSet:
    """Resolve a preset name, or a user's own list of triggers (the uniform pool; roles keep the paper's texts)."""
    if isinstance(spec, str):
        if spec not in TRIGGER_PRESETS:
            raise ValueError(f"unknown trigger preset {spec!r}; choose one of {sorted(TRIGGER_PRESETS)} or give a list")
        return TRIGGER_PRESETS[spec]
    return TriggerSet(pool=tuple(spec))


_SENTENCE_END = re.compile(r"\n|[.!?](?=\s)")
_ANSWER_HEADER = re.compile(r"(?:^|\n)[ \t#*]*final answer[ \t*:]*$", re.IGNORECASE)
_THINK_CLOSE = "</think>"


def _final_answer_start(text: str) -> int | None:
    """Where the final answer begins: the last `<answer>` tag if any, else the last `\\boxed{`."""
    for marker in ("<answer>", "\\boxed{"):
        position = text.rfind(marker)
        if position >= 0:
            return position
    return None


def cut_before_final_answer(text: str) -> str | None:
    """Cut a response back to the reasoning before its final answer; None when it states no final answer.

    The final answer starts at the last `<answer>` tag, or without one at the last `\\boxed{`. The cut goes back to
    the end of the last whole sentence or line before it, so no half sentence ("so the answer is $") is left. A bare
    "Final Answer" heading and a closing `</think>` left at the end are dropped as well, so that the continuation
    resumes the reasoning. Trailing whitespace is removed. None also when nothing would be left.
    """
    answer_start = _final_answer_start(text)
    if answer_start is None:
        return None
    head = text[:answer_start]
    cut_at = max((match.end() for match in _SENTENCE_END.finditer(head)), default=len(head))
    kept = _ANSWER_HEADER.sub("", head[:cut_at].rstrip()).rstrip()
    kept = kept.removesuffix(_THINK_CLOSE).rstrip()
    return kept or None


def build_rethink_prefix(response_text: str, trigger: str, cut: bool) -> str:
    """The text the forced continuation starts from: the first response (cut or whole), then the trigger.

    With `cut` and a final answer to cut before, the response is shortened by `cut_before_final_answer`; otherwise
    the whole response is kept. Trailing whitespace is removed before the trigger, whose own leading newlines
    separate it from the response.
    """
    head = cut_before_final_answer(response_text) if cut else None
    return (head if head is not None else response_text.rstrip()) + trigger
