"""An on-disk cache of judge replies, so rescoring the same responses with the same judge sends no request.

One JSON line per reply, keyed by a hash of the judge model and the exact messages; lines are appended and flushed as
replies arrive, so a run stopped half-way keeps what it paid for. A line cut short by a crash is skipped on reading.
Only successful replies are stored (a failure is asked again next time). The API key is never part of a key or line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rethinker.jsonl import JsonlError, jsonl_entries


def reply_key(model: str, messages: Sequence[dict[str, Any]]) -> str:
    """The cache key of a request: SHA-256 of the judge model and the messages."""
    payload = json.dumps([model, list(messages)], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Judge replies by request key, read from and appended to one JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.replies: dict[str, str] = {}
        self.unreadable_lines = 0
        self._ends_cut = False
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        """Load every readable line; count the unreadable ones (a line cut by a crash)."""
        data = self.path.read_bytes()
        self._ends_cut = bool(data) and not data.endswith(b"\n")
        for _, record in jsonl_entries(self.path, decode_errors="replace"):
            if isinstance(record, JsonlError) or "key" not in record or "reply" not in record:
                self.unreadable_lines += 1
                continue
            key, reply = record["key"], record["reply"]
            if isinstance(key, str) and isinstance(reply, str):
                self.replies[key] = reply

    def get(self, key: str) -> str | None:
        """The cached reply of a request, or None."""
        return self.replies.get(key)

    def put(self, key: str, reply: str) -> None:
        """Store a reply in memory and append it to the file."""
        self.replies[key] = reply
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            if self._ends_cut:
                handle.write("\n")
                self._ends_cut = False
            handle.write(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n")
