"""Small helpers that keep untrusted text (labels, model output) from breaking the Markdown it is placed in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def markdown_cell(text: str) -> str:
    """Text safe inside a Markdown heading or table cell: one line, pipes escaped, backticks made quotes."""
    return " ".join(text.split()).replace("|", "\\|").replace("`", "'")


def fenced(text: str) -> str:
    """`text` in a code fence longer than any backtick run inside it, so it renders as plain text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; cells are written as given (escape untrusted ones with `markdown_cell`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
