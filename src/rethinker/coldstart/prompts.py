"""Default prompt templates of the modality-bridging stages, and filling `{name}` placeholders safely."""

from __future__ import annotations

import re

PSEUDO_COT_PROMPT = (
    "Given an image, a question: {question} and its correct answer: {answer}, "
    "think step by step about how the answer follows from the image and the question. "
    "Point out every detail of the image that the reasoning relies on."
)
"""Stage 1: the MLLM writes a pseudo chain of thought for (image, question, answer)."""

DESCRIPTION_PROMPT = (
    "Given a image, a question:{question} and a thinking process:{thinking_process}, "
    "provide a detailed description containing all the necessary details of the image to answer the question "
    "correctly. Describe only what the image shows; do not give the answer."
)
"""Stage 2: the same MLLM, given the pseudo chain of thought, describes the image in detail (SPEC section 7)."""

REASONING_PROMPT = (
    "Image description: {description}\n\n"
    "Following the above image description, think step by step and answer the following question directly.\n\n"
    "Question: {question}"
)
"""Stage 3: the text reasoning model answers from the description alone (SPEC section 7)."""

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders_in(template: str) -> set[str]:
    """The `{name}` placeholders a template uses (other braces, such as `\\boxed{}`, are plain text)."""
    return set(PLACEHOLDER.findall(template))


def fill_template(template: str, **values: str) -> str:
    """Replace each `{name}` whose name is in `values`; leave every other brace untouched, never re-expand values."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return PLACEHOLDER.sub(substitute, template)
