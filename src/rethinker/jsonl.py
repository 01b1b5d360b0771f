"""JSON-lines files read one way: each non-blank line one JSON object, a bad line named by its file and line number."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rethinker.errors import UserError


class JsonlError(UserError):
    """A line of a JSON-lines file that is not a JSON object; `path`, `line` and `reason` say where and why."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path} line {line}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


def parse_jsonl_line(text: str | bytes, path: Path | str, line: int) -> dict[str, Any]:
    """One line as a JSON object, else a `JsonlError` naming the file and the line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise JsonlError(path, line, f"not valid JSON ({error.msg})") from error
    except (UnicodeDecodeError, RecursionError) as error:
        raise JsonlError(path, line, f"not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise JsonlError(path, line, f"expected a JSON object, got {type(value).__name__}")
    return value


def jsonl_entries(path: Path | str, decode_errors: str = "strict") -> Iterator[tuple[int, dict[str, Any] | JsonlError]]:
    """(line number, object or the error of a line that is not one) per non-blank line, for readers that skip bad lines.

    `decode_errors` is `open`'s `errors`: "replace" reads a file whose last line a crash may have cut mid-character.
    """
    with Path(path).open(encoding="utf-8", errors=decode_errors) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, parse_jsonl_line(line, path, number)
            except JsonlError as error:
                yield number, error


def iter_jsonl(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line, streamed; the first bad line raises its `JsonlError`."""
    for number, entry in jsonl_entries(path):
        if isinstance(entry, JsonlError):
            raise entry
        yield number, entry


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """Every object of a JSON-lines file (blank lines skipped); a bad line raises a `JsonlError` naming it."""
    return [row for _, row in iter_jsonl(path)]


def truncate_torn_tail(path: Path) -> int:
    """Cut a last line that lacks its newline (a write interrupted by a kill); return the number of bytes removed."""
    with path.open("rb+") as file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - 65_536)
            file.seek(start)
            chunk = file.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        file.truncate(keep)
    return size - keep
