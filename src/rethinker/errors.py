"""The one base class of mistakes a user can fix: the console prints its message on one line and exits with status 2."""

from __future__ import annotations


class UserError(ValueError):
    """A bad input (file, row, key, flag or path) that the user can fix; the message says what, where and what to do."""
