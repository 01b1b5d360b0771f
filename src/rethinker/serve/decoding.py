"""Turn a growing list of token ids into text pieces that, joined, equal decoding all the ids at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT_CHAR = "\ufffd"


class IncrementalDecoder:
    """Decodes one response token by token, holding back text while a multi-byte character is still incomplete.

    Each step decodes only a short window (from the last emitted boundary), so streaming a long response stays linear
    rather than re-decoding everything per token.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self.token_ids: list[int] = []
        self._window_start = 0
        self._emitted_end = 0

    def push(self, token_id: int) -> str:
        """Add one token; the new text it completes (empty while a character is incomplete)."""
        self.token_ids.append(token_id)
        before = self._decode(self.token_ids[self._window_start : self._emitted_end])
        after = self._decode(self.token_ids[self._window_start :])
        if len(after) <= len(before) or after.endswith(REPLACEMENT_CHAR):
            return ""
        self._window_start, self._emitted_end = self._emitted_end, len(self.token_ids)
        return after[len(before) :]

    def flush(self) -> str:
        """Whatever text is still held back (an incomplete character decodes as the replacement character)."""
        before = self._decode(self.token_ids[self._window_start : self._emitted_end])
        after = self._decode(self.token_ids[self._window_start :])
        self._window_start = self._emitted_end = len(self.token_ids)
        return after[len(before) :]
