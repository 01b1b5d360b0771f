"""Append-only JSONL files that survive a kill -9: every record is flushed whole, a torn last line is repaired."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rethinker.jsonl import iter_jsonl, truncate_torn_tail

logger = logging.getLogger(__name__)


class JsonlLog:
    """One JSONL file of finished records: `recover` reads what is there after repairing it, `append` adds durably."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._file: IO[str] | None = None

    def recover(self) -> Iterator[dict[str, Any]]:
        """Repair a torn last line, then yield every record; a bad line elsewhere is an error naming file and line."""
        if not self.path.exists():
            return
        removed = truncate_torn_tail(self.path)
        if removed:
            logger.warning(
                "%s: removed a half-written last line (%d bytes); its record will be redone", self.path, removed
            )
        for line_number, record in iter_jsonl(self.path):
            if "id" not in record:
                raise ValueError(f"{self.path} line {line_number}: a record without an 'id'")
            yield record

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, flushed (and fsynced if asked) before returning."""
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file if it was opened."""
        if self._file is not None:
            self._file.close()
            self._file = None
