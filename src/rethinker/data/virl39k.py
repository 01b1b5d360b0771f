"""The ViRL39K layout: `39Krelease.parquet` beside an `images/` folder, several images per question."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rethinker.data.errors import FieldError
from rethinker.data.loaders import ColumnMap, LoadResult, OnError, load_examples
from rethinker.data.placeholders import IMAGE_PLACEHOLDER
from rethinker.data.schema import Example

VIRL39K_FILE = "39Krelease.parquet"
VIRL39K_COLUMNS = ColumnMap(question="question", answer="answer", id="qid", images="image", choices=None)
PASS_RATE_COLUMNS = ("PassRate_7BBase", "PassRate_32BTrained")
_BOXED = "\\boxed{"


def strip_boxed(answer: str) -> str:
    """The content of the last brace-balanced `\\boxed{...}` in `answer`, or `answer` stripped when it has none."""
    start = answer.rfind(_BOXED)
    if start < 0:
        return answer.strip()
    depth = 1
    for position in range(start + len(_BOXED), len(answer)):
        depth += {"{": 1, "}": -1}.get(answer[position], 0)
        if depth == 0:
            return answer[start + len(_BOXED) : position].strip()
    return answer.strip()


def check_virl39k_row(example: Example) -> Example:
    """Unbox the gold answer and check one `<image>` placeholder per image (a `FieldError` otherwise)."""
    placeholders = example.question.count(IMAGE_PLACEHOLDER)
    if placeholders != len(example.images):
        raise FieldError(
            VIRL39K_COLUMNS.question,
            f"{placeholders} {IMAGE_PLACEHOLDER} placeholders but {len(example.images)} images",
        )
    gold = strip_boxed(example.answer)
    if not gold:
        raise FieldError(VIRL39K_COLUMNS.answer, "empty gold answer")
    return replace(example, answer=gold, metadata={**example.metadata, "raw_answer": example.answer})


def load_virl39k(
    root: str | Path,
    *,
    on_error: OnError = "raise",
    limit: int | None = None,
    file_name: str = VIRL39K_FILE,
) -> LoadResult:
    """Read ViRL39K from its release folder; image paths resolve against `root`, pass rates land in metadata."""
    root = Path(root)
    return load_examples(
        root / file_name,
        format="parquet",
        columns=VIRL39K_COLUMNS,
        image_root=root,
        on_error=on_error,
        limit=limit,
        transform=check_virl39k_row,
    )
