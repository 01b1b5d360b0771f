"""The HTTP routes: OpenAI-compatible chat, the demo's API and page; generation is left to the worker thread.

A generation request takes its place in the queue (503 at once when full) before its body is read or any image is
decoded, so the memory a burst can cost is bounded by the queue, not by the number of clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rethinker.serve.demo import demo_settings
from rethinker.serve.errors import ApiError, bad_request, too_large
from rethinker.serve.generation import ChoiceDelta, GenerationJob, Ticket
from rethinker.serve.openai_api import ChatRequest, chunk_body, chunk_choice, completion_body, models_body, usage
from rethinker.serve.openai_api import parse_chat_request as parse_chat
from rethinker.serve.rethink import RethinkRequest, parse_rethink_request, rethink_verdict

if TYPE_CHECKING:
    from rethinker.serve.app import ServerState

logger = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """An OpenAI-shaped error reply."""
    if error.status >= 500:
        logger.warning("request failed: %s", error.message)
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def api_endpoint(handler: Endpoint) -> Endpoint:
    """Wrap a route so every failure becomes an OpenAI-shaped error; unexpected ones are logged as 500s."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except Exception:
            logger.exception("unexpected error on %s %s", request.method, request.url.path)
            return error_response(ApiError(500, "internal server error", "server_error"))

    return endpoint


def _state(request: Request) -> ServerState:
    return request.app.state.rethinker


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def parse_json(body: bytes) -> Any:
    """A JSON document; 400 when it is no valid JSON or nests too deeply for the parser."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad_request(f"request body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise bad_request("request body is not valid JSON: it nests too deeply") from error


class BodyTooLarge(ApiError):
    """A 413 for a body over the byte limit; the connection is closed rather than the body read."""


async def read_json(request: Request, max_bytes: int, timeout: float) -> Any:
    """The request's JSON body, checked for type and announced length before a byte of it is read; a body slower
    than `timeout` seconds is refused (408), so a slow client cannot hold a queue place."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "requests must be sent as Content-Type: application/json")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ApiError(411, "a Content-Length header is required")
    if int(length) > max_bytes:
        error = too_large(f"request body is over the {max_bytes} byte limit")
        raise BodyTooLarge(error.status, error.message, error.error_type)
    try:
        body = await asyncio.wait_for(request.body(), timeout)
    except TimeoutError as error:
        raise ApiError(408, f"the request body did not arrive within {timeout:g} s") from error
    return await run_in_threadpool(parse_json, body)


async def generation_endpoint(request: Request, handle: Callable[[Request, Ticket], Awaitable[Response]]) -> Response:
    """Hold a queue place while the body is read and prepared; close the connection after a 413 body."""
    try:
        with _state(request).worker.admission() as ticket:
            return await handle(request, ticket)
    except BodyTooLarge as error:
        return error_response(error, headers={"Connection": "close"})


async def _submit(request: Request, ticket: Ticket, chat: ChatRequest, prefix: str = "") -> tuple[GenerationJob, int]:
    """Encode the prompt (off the event loop) and queue its job on the request's ticket."""
    state = _state(request)
    prompt = await run_in_threadpool(state.encode, chat, prefix)
    job = GenerationJob(prompt, chat.params, chat.ignore_eos, chat.seed)
    job.bind_loop()
    state.worker.submit(job, ticket)
    return job, prompt.length


async def _chat(request: Request, ticket: Ticket) -> Response:
    state = _state(request)
    body = await read_json(request, state.config.max_body_bytes, state.config.body_timeout_s)
    chat = await run_in_threadpool(parse_chat, body, state.config, state.pixels)
    job, prompt_tokens = await _submit(request, ticket, chat)
    if chat.stream:
        return EventStream(job, _events(job, chat, state.model_id, prompt_tokens))
    completions = await job.result_async()
    return JSONResponse(completion_body(_new_id(), state.model_id, int(time.time()), completions, prompt_tokens))


async def _rethink(request: Request, ticket: Ticket) -> Response:
    state = _state(request)
    body = await read_json(request, state.config.max_body_bytes, state.config.body_timeout_s)
    rethink: RethinkRequest = await run_in_threadpool(parse_rethink_request, body, state.config, state.pixels)
    job, prompt_tokens = await _submit(request, ticket, rethink.chat, rethink.prefix)
    if rethink.chat.stream:
        events = _events(job, rethink.chat, state.model_id, prompt_tokens, rethink.response, rethink.prefix)
        return EventStream(job, events)
    completions = await job.result_async()
    reply = completion_body(_new_id(), state.model_id, int(time.time()), completions, prompt_tokens)
    for choice, completion in zip(reply["choices"], completions, strict=True):
        choice["rethink"] = rethink_verdict(rethink.response, rethink.prefix + completion.text)
    reply["prefix"] = rethink.prefix
    return JSONResponse(reply)


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`: OpenAI chat completions, streamed as server-sent events when asked."""
    return await generation_endpoint(request, _chat)


async def rethink(request: Request) -> Response:
    """`POST /api/rethink`: continue a finished response after a rethinking trigger, with the answers' verdict."""
    return await generation_endpoint(request, _rethink)


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


async def _deltas_or_error(job: GenerationJob) -> AsyncIterator[ChoiceDelta | ApiError]:
    """The job's deltas, ending with its error (if any) as an item, so a stream can report it in-band."""
    try:
        async for delta in job.deltas_async():
            yield delta
    except ApiError as error:
        yield error


async def _events(
    job: GenerationJob, chat: ChatRequest, model: str, prompt_tokens: int, first: str = "", prefix: str | None = None
) -> AsyncIterator[bytes]:
    """Server-sent events: a role chunk at once, then text deltas, then usage (if asked) and `[DONE]`."""
    completion_id, created, n = _new_id(), int(time.time()), chat.params.n
    texts, tokens = [prefix or ""] * n, 0
    yield _sse(
        chunk_body(
            completion_id, model, created, [chunk_choice(i, {"role": "assistant", "content": ""}) for i in range(n)]
        )
    )
    async for delta in _deltas_or_error(job):
        if isinstance(delta, ApiError):
            yield _sse(delta.body())
            break
        texts[delta.index] += delta.text
        tokens += delta.token_count
        choice = chunk_choice(delta.index, {"content": delta.text}, delta.finish_reason)
        if delta.finish_reason is not None and prefix is not None:
            choice["rethink"] = rethink_verdict(first, texts[delta.index])
        yield _sse(chunk_body(completion_id, model, created, [choice]))
    if chat.include_usage:
        yield _sse(chunk_body(completion_id, model, created, [], usage(prompt_tokens, tokens)))
    yield _sse("[DONE]")


class EventStream(StreamingResponse):
    """A server-sent event stream whose generation is cancelled if the stream ends early (the client left)."""

    def __init__(self, job: GenerationJob, events: AsyncIterator[bytes]) -> None:
        super().__init__(events, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.cancel()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


async def static_file(request: Request) -> Response:
    """The demo page and its assets, served from memory."""
    path = request.url.path
    if path not in _state(request).static:
        raise ApiError(404, f"no route GET {path}", "not_found_error")
    body, content_type = _state(request).static[path]
    return Response(body, headers={"Content-Type": content_type})


async def list_models(request: Request) -> Response:
    """`GET /v1/models`: the one model this server runs."""
    state = _state(request)
    return JSONResponse(models_body(state.model_id, state.created))


async def health(request: Request) -> Response:
    """`GET /health`: queue use, the default template and the peak of full-size pixels decoded at once."""
    state = _state(request)
    return JSONResponse(
        {
            "status": "ok",
            "admitted": state.worker.admitted,
            "template": state.template.name,
            "decoding_pixels_peak": state.pixels.peak,
        }
    )


async def examples(request: Request) -> Response:
    """`GET /api/examples`: the demo's example problems."""
    return JSONResponse(_state(request).examples)


async def settings(request: Request) -> Response:
    """`GET /api/settings`: the demo's templates, triggers and limits, and the server's default template."""
    state = _state(request)
    return JSONResponse({**demo_settings(state.config.max_new_tokens), "server_template": state.template.name})


async def no_route(request: Request, exc: Exception) -> Response:
    """404 (and wrong-method) replies in the OpenAI error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status not in (404, 405):
        return error_response(ApiError(status, str(getattr(exc, "detail", "request refused"))))
    return error_response(ApiError(404, f"no route {request.method} {request.url.path}", "not_found_error"))


def build_app(state: ServerState) -> Starlette:
    """The Starlette application over a server's shared state."""
    get = ["GET"]
    routes = [
        Route("/v1/models", api_endpoint(list_models), methods=get),
        Route("/health", api_endpoint(health), methods=get),
        Route("/api/examples", api_endpoint(examples), methods=get),
        Route("/api/settings", api_endpoint(settings), methods=get),
        Route("/v1/chat/completions", api_endpoint(chat_completions), methods=["POST"]),
        Route("/api/rethink", api_endpoint(rethink), methods=["POST"]),
        Route("/", api_endpoint(static_file), methods=get),
        Route("/static/{name}", api_endpoint(static_file), methods=get),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: no_route})
    app.state.rethinker = state
    return app
