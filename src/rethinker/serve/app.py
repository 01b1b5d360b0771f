"""The HTTP server: OpenAI-compatible routes, the demo's API, and its static page; handler threads never generate."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from rethinker.models.processor import PromptInputs, PromptTooLongError
from rethinker.serve.config import ServeConfig
from rethinker.serve.demo import demo_examples, demo_settings
from rethinker.serve.errors import ApiError, bad_request
from rethinker.serve.generation import ChoiceDelta, GenerationJob, GenerationWorker, Generator
from rethinker.serve.openai_api import (
    ChatPrompt,
    ChatRequest,
    chunk_body,
    chunk_choice,
    completion_body,
    models_body,
    parse_chat_request,
    usage,
)
from rethinker.serve.rethink import parse_rethink_request, rethink_verdict

logger = logging.getLogger(__name__)
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def load_static() -> dict[str, tuple[bytes, str]]:
    """The demo's files by URL path, read once from the package's `static/` folder."""
    folder = resources.files("rethinker.serve").joinpath("static")
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[f"/static/{entry.name}"] = (entry.read_bytes(), STATIC_TYPES[suffix])
    files["/"] = files["/static/index.html"]
    return files


@dataclass
class ServerState:
    """What every handler thread shares: limits, the generator's processor, the worker and the demo's data."""

    config: ServeConfig
    generator: Generator
    worker: GenerationWorker
    model_id: str
    created: int
    static: dict[str, tuple[bytes, str]]
    examples: list[dict[str, Any]]

    def encode(self, prompt: ChatPrompt, assistant_prefix: str = "") -> PromptInputs:
        """Render and tokenise a prompt (optionally with the start of the assistant's reply); 400 when it is refused."""
        processor = self.generator.processor
        text = processor.render(prompt.messages) + assistant_prefix
        try:
            return processor.encode(text, prompt.images, max_length=self.config.max_prompt_tokens)
        except PromptTooLongError as error:
            raise bad_request(str(error)) from error
        except ValueError as error:
            raise bad_request(f"cannot build the prompt: {error}") from error


class Handler(BaseHTTPRequestHandler):
    """Routes one request; generation is handed to the worker, so slow generations never block other routes."""

    server: RethinkerServer
    server_version = "rethinker"
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Log requests through `logging` instead of stderr."""
        logger.debug("%s %s", self.address_string(), format % args)

    @property
    def state(self) -> ServerState:
        """The server's shared state."""
        return self.server.state

    def do_GET(self) -> None:  # noqa: N802
        """Static files, the model list, health, and the demo's data."""
        path = self.path.split("?", 1)[0]
        routes = {
            "/v1/models": lambda: models_body(self.state.model_id, self.state.created),
            "/health": lambda: {"status": "ok", "admitted": self.state.worker.admitted},
            "/api/examples": lambda: self.state.examples,
            "/api/settings": lambda: demo_settings(self.state.config.max_new_tokens),
        }
        if path in routes:
            self._send_json(HTTPStatus.OK, routes[path]())
        elif path in self.state.static:
            body, content_type = self.state.static[path]
            self._send_bytes(HTTPStatus.OK, body, content_type)
        else:
            self._send_error(ApiError(404, f"no route GET {path}", "not_found_error"))

    def do_POST(self) -> None:  # noqa: N802
        """Chat completions and forced rethinking; every failure becomes an OpenAI-shaped error."""
        path = self.path.split("?", 1)[0]
        try:
            if path == "/v1/chat/completions":
                self._chat(parse_chat_request(self._read_json(), self.state.config))
            elif path == "/api/rethink":
                self._rethink(self._read_json())
            else:
                raise ApiError(404, f"no route POST {path}", "not_found_error")
        except ApiError as error:
            self._send_error(error)
        except Exception:
            logger.exception("unexpected error on POST %s", path)
            self._send_error(ApiError(500, "internal server error", "server_error"))

    def _read_json(self) -> Any:
        if self.headers.get_content_type() != "application/json":
            raise ApiError(415, "requests must be sent as Content-Type: application/json")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ApiError(411, "a Content-Length header is required")
        if int(length) > self.state.config.max_body_bytes:
            self.close_connection = True
            raise ApiError(413, f"request body is over the {self.state.config.max_body_bytes} byte limit")
        try:
            return json.loads(self.rfile.read(int(length)))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise bad_request(f"request body is not valid JSON: {error}") from error

    def _start(self, request: ChatRequest, prompt: PromptInputs) -> GenerationJob:
        job = GenerationJob(prompt, request.params, request.ignore_eos, request.seed)
        self.state.worker.submit(job)
        return job

    def _chat(self, request: ChatRequest) -> None:
        prompt = self.state.encode(request.prompt)
        job = self._start(request, prompt)
        if request.stream:
            self._stream(job, request, prompt.length)
        else:
            body = completion_body(_new_id(), self.state.model_id, int(time.time()), job.result(), prompt.length)
            self._send_json(HTTPStatus.OK, body)

    def _rethink(self, body: Any) -> None:
        request = parse_rethink_request(body, self.state.config)
        prompt = self.state.encode(request.chat.prompt, request.prefix)
        job = self._start(request.chat, prompt)
        if request.chat.stream:
            self._stream(job, request.chat, prompt.length, request.response, request.prefix)
            return
        completions = job.result()
        reply = completion_body(_new_id(), self.state.model_id, int(time.time()), completions, prompt.length)
        for choice, completion in zip(reply["choices"], completions, strict=True):
            choice["rethink"] = rethink_verdict(request.response, request.prefix + completion.text)
        reply["prefix"] = request.prefix
        self._send_json(HTTPStatus.OK, reply)

    def _stream(
        self, job: GenerationJob, request: ChatRequest, prompt_tokens: int, first: str = "", prefix: str | None = None
    ) -> None:
        """Server-sent events: a role chunk at once, then text deltas, then usage (if asked) and `[DONE]`."""
        completion_id, created, model = _new_id(), int(time.time()), self.state.model_id
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        texts = [prefix or ""] * request.params.n
        tokens = 0
        try:
            roles = [chunk_choice(i, {"role": "assistant", "content": ""}) for i in range(request.params.n)]
            self._event(chunk_body(completion_id, model, created, roles))
            for delta in _deltas_or_error(job):
                if isinstance(delta, ApiError):
                    self._event(delta.body())
                    break
                texts[delta.index] += delta.text
                tokens += delta.token_count
                choice = chunk_choice(delta.index, {"content": delta.text}, delta.finish_reason)
                if delta.finish_reason is not None and prefix is not None:
                    choice["rethink"] = rethink_verdict(first, texts[delta.index])
                self._event(chunk_body(completion_id, model, created, [choice]))
            if request.include_usage:
                self._event(chunk_body(completion_id, model, created, [], usage(prompt_tokens, tokens)))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except OSError:
            job.cancel()
        self.close_connection = True

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, error: ApiError) -> None:
        if error.status >= 500:
            logger.warning("request failed: %s", error.message)
        self._send_json(error.status, error.body())


def _deltas_or_error(job: GenerationJob) -> Iterator[ChoiceDelta | ApiError]:
    """The job's deltas, ending with its error (if any) as an item, so a stream can report it in-band."""
    try:
        yield from job.deltas()
    except ApiError as error:
        yield error


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class RethinkerServer(ThreadingHTTPServer):
    """A threading HTTP server that owns the generation worker; `stop` ends both cleanly."""

    daemon_threads = True

    def __init__(self, state: ServerState) -> None:
        super().__init__((state.config.host, state.config.port), Handler)
        self.state = state
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL the server listens on."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        """Whether the HTTP thread or the generation worker is still running."""
        return self.state.worker.alive or (self._thread is not None and self._thread.is_alive())

    def start(self) -> None:
        """Start the worker and serve on a background thread."""
        self.state.worker.start()
        self._thread = threading.Thread(target=self.serve_forever, name="rethinker-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests, cancel generation, and release the socket."""
        self.state.worker.stop()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()


def build_server(config: ServeConfig, generator: Generator, model_id: str) -> RethinkerServer:
    """A server bound to `config.host:config.port` (port 0 picks a free one), not yet started."""
    state = ServerState(
        config=config,
        generator=generator,
        worker=GenerationWorker(generator, config.max_queue),
        model_id=model_id,
        created=int(time.time()),
        static=load_static(),
        examples=demo_examples(),
    )
    return RethinkerServer(state)
