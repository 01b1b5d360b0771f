"""One log line per HTTP request: client, method, path (no query string), status, bytes sent and duration."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("rethinker.serve.access")


class AccessLog:
    """ASGI middleware logging each request once it has been answered; never bodies, headers or query strings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = {"status": 0, "bytes": 0}

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answered["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            client = scope.get("client") or ("-", 0)
            logger.info(
                "%s:%s %s %s %d %dB %.3fs",
                client[0],
                client[1],
                scope["method"],
                scope["path"],
                answered["status"],
                answered["bytes"],
                time.perf_counter() - started,
            )
