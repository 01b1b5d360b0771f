"""Prompt templates: only known placeholders are filled, and values are never expanded again."""

from __future__ import annotations

from rethinker.coldstart.prompts import REASONING_PROMPT, fill_template, placeholders_in


def test_fill_leaves_other_braces_and_does_not_reexpand_values() -> None:
    filled = fill_template("Q: {question} put it in \\boxed{} {unknown}", question="is {answer} 3?", answer="no")
    assert filled == "Q: is {answer} 3? put it in \\boxed{} {unknown}"


def test_default_reasoning_prompt_carries_the_spec_instruction() -> None:
    assert placeholders_in(REASONING_PROMPT) == {"description", "question"}
    filled = fill_template(REASONING_PROMPT, description="A red circle.", question="What colour?")
    assert filled.index("A red circle.") < filled.index("Following the above image description") < filled.index("What")
