"""Errors raised while reading data, always naming where the bad value sits."""

from __future__ import annotations

from rethinker.errors import UserError


class DataError(UserError):
    """A data file, row or field that cannot be read; the message names the file, row and field."""


class FieldError(ValueError):
    """A bad value in one field of a row; loaders add the file and row and re-raise it as a `DataError`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


def location(file: str, row: int | None = None, field: str | None = None) -> str:
    """A human-readable place in a data file, e.g. "train.jsonl row 17 field 'images[1]'"."""
    parts = [file]
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field '{field}'")
    return " ".join(parts)
