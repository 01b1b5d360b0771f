"""An async client for OpenAI-compatible chat completions: bounded concurrency, time and size; counted retries."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from rethinker.chat.endpoint import EndpointConfig

logger = logging.getLogger(__name__)

RETRYABLE_REASONS = frozenset(
    {"connection_error", "timeout", "rate_limited", "server_error", "malformed_json", "missing_field", "empty_reply"}
)
"""Transient failure reasons: worth another attempt now, and another try when a run resumes. Any other reason (a 4xx
such as a too-long prompt, an oversized body) fails at once and stays dropped."""


class ChatRequestError(Exception):
    """A request that failed for a named `reason` (one of RETRYABLE_REASONS, `client_error` or `too_large`)."""

    def __init__(self, reason: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ChatReply:
    """The first choice of a completion: its text, any separate reasoning text, and why generation stopped."""

    content: str
    reasoning: str
    finish_reason: str | None


@dataclass
class RequestStats:
    """Counts that prove retries happened: attempts, successes, failed attempts and final failures by reason."""

    requests: int = 0
    attempts: int = 0
    succeeded: int = 0
    failed_attempts: Counter[str] = field(default_factory=Counter)
    failed_requests: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "requests": self.requests,
            "attempts": self.attempts,
            "succeeded": self.succeeded,
            "failed_attempts": dict(self.failed_attempts),
            "failed_requests": dict(self.failed_requests),
        }


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half of min(max, base * 2**attempt) plus a random share of the rest."""
    ceiling = min(max_s, base_s * 2**attempt)
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def user_message(text: str, image_urls: list[str]) -> dict[str, Any]:
    """A user turn: the images first, then the text; a plain string when there are no images."""
    if not image_urls:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}


def parse_reply(body: Any) -> ChatReply:
    """The first choice of a decoded completion body; `ChatRequestError` when a field is absent or the text empty."""
    if not isinstance(body, dict):
        raise ChatRequestError("missing_field", "body is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        error = body.get("error")
        raise ChatRequestError("missing_field", f"no choices (error: {str(error)[:200]})" if error else "no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ChatRequestError("missing_field", "choices[0].message")
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    if not isinstance(content, str) and not (isinstance(reasoning, str) and reasoning):
        raise ChatRequestError("missing_field", "choices[0].message.content")
    finish_reason = choices[0].get("finish_reason")
    reply = ChatReply(
        content=content if isinstance(content, str) else "",
        reasoning=reasoning if isinstance(reasoning, str) else "",
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )
    if not reply.content.strip() and not reply.reasoning.strip():
        raise ChatRequestError("empty_reply", f"no text (finish_reason={reply.finish_reason})")
    return reply


def retry_after_s(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds, when given as a number."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class ChatClient:
    """Chat completions against one endpoint; the API key comes from the environment and is only sent as a header."""

    def __init__(self, name: str, endpoint: EndpointConfig, rng: random.Random | None = None) -> None:
        self.name = name
        self.endpoint = endpoint
        self.stats = RequestStats()
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(endpoint.max_concurrency)
        self._api_key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
        if endpoint.api_key_env and not self._api_key:
            raise ValueError(f"{name}: environment variable {endpoint.api_key_env} (api_key_env) is not set")
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._http = httpx.AsyncClient(
            base_url=endpoint.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(endpoint.timeout_s),
            limits=httpx.Limits(max_connections=endpoint.max_concurrency),
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def complete(self, messages: list[dict[str, Any]]) -> ChatReply:
        """One completion, retried with backoff on retryable failures; `ChatRequestError` when out of attempts.

        The request keeps its concurrency slot while it backs off, so a struggling server sees fewer requests.
        """
        payload = {
            **self.endpoint.extra_body,
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": self.endpoint.temperature,
            "top_p": self.endpoint.top_p,
            "max_tokens": self.endpoint.max_tokens,
        }
        self.stats.requests += 1
        attempt = 0
        async with self._semaphore:
            while True:
                attempt += 1
                self.stats.attempts += 1
                try:
                    reply = await self._attempt(payload)
                except ChatRequestError as error:
                    self.stats.failed_attempts[error.reason] += 1
                    if attempt >= self.endpoint.max_attempts or error.reason not in RETRYABLE_REASONS:
                        self.stats.failed_requests[error.reason] += 1
                        logger.warning("%s request failed for good after %d attempt(s): %s", self.name, attempt, error)
                        raise
                    delay = backoff_delay(
                        attempt - 1, self.endpoint.backoff_base_s, self.endpoint.backoff_max_s, self._rng
                    )
                    if error.retry_after_s is not None:
                        delay = max(delay, min(error.retry_after_s, self.endpoint.backoff_max_s))
                    logger.info("%s attempt %d failed (%s); retrying in %.2fs", self.name, attempt, error, delay)
                    await asyncio.sleep(delay)
                else:
                    self.stats.succeeded += 1
                    return reply

    async def _attempt(self, payload: dict[str, Any]) -> ChatReply:
        """One HTTP round trip within the endpoint's wall-clock limit, mapped to a reply or a reasoned error."""
        try:
            async with asyncio.timeout(self.endpoint.timeout_s):
                async with self._http.stream("POST", "chat/completions", json=payload) as response:
                    body = await self._read_capped(response)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise ChatRequestError("timeout", f"no complete answer within {self.endpoint.timeout_s}s") from error
        except httpx.DecodingError as error:
            raise ChatRequestError("malformed_json", f"undecodable body ({error})") from error
        except httpx.RequestError as error:
            raise ChatRequestError("connection_error", type(error).__name__) from error
        status = response.status_code
        if status == 408:
            raise ChatRequestError("timeout", "HTTP 408")
        if status == 429 or status >= 500:
            reason = "rate_limited" if status == 429 else "server_error"
            raise ChatRequestError(reason, f"HTTP {status}", retry_after_s(response))
        if status >= 400:
            excerpt = body[:300].decode("utf-8", "replace")
            if self._api_key:
                excerpt = excerpt.replace(self._api_key, "[api key]")
            raise ChatRequestError("client_error", f"HTTP {status}: {excerpt}")
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise ChatRequestError("malformed_json", f"{len(body)} bytes that are not JSON") from error
        return parse_reply(decoded)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The response body, refused once it grows past `max_response_bytes`."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.endpoint.max_response_bytes:
                raise ChatRequestError("too_large", f"response body over {self.endpoint.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
