"""Errors a request can end in, carried to the client as OpenAI-shaped JSON."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request that cannot be served: its HTTP status, an OpenAI error `type` and a message for the user."""

    def __init__(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        """The OpenAI error object: `{"error": {"message", "type", "code"}}`."""
        return {"error": {"message": self.message, "type": self.error_type, "code": self.status}}


def bad_request(message: str) -> ApiError:
    """A 400 for input the server refuses (bad JSON, bad image, out-of-range setting)."""
    return ApiError(400, message)


def busy() -> ApiError:
    """A 503 for a full generation queue: the client may retry later."""
    return ApiError(503, "server busy: the generation queue is full, retry later", "server_busy")


def too_large(message: str) -> ApiError:
    """A 413 for a request bigger than the server accepts (body bytes, image pixels)."""
    return ApiError(413, message, "request_too_large")
