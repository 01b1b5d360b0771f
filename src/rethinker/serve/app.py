"""The server: shared state, and uvicorn serving the routes on a background thread beside the generation worker."""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn

from rethinker.models.processor import PromptInputs, PromptTooLongError
from rethinker.serve.access_log import AccessLog
from rethinker.serve.config import ServeConfig
from rethinker.serve.demo import demo_examples
from rethinker.serve.errors import bad_request
from rethinker.serve.generation import GenerationWorker, Generator
from rethinker.serve.image_urls import PixelBudget
from rethinker.serve.openai_api import ChatRequest
from rethinker.serve.routes import build_app
from rethinker.serve.templates import ServeTemplate, apply_template, choose_template

logger = logging.getLogger(__name__)
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
STARTUP_TIMEOUT_S = 30.0


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
    """What every request shares: limits, the generator's processor, the worker, the pixel budget and demo data."""

    config: ServeConfig
    generator: Generator
    worker: GenerationWorker
    pixels: PixelBudget
    template: ServeTemplate
    model_id: str
    created: int
    static: dict[str, tuple[bytes, str]]
    examples: list[dict[str, Any]]

    def encode(self, request: ChatRequest, assistant_prefix: str = "") -> PromptInputs:
        """Render (with the request's or the server's template) and tokenise a prompt, optionally with the start of
        the assistant's reply; 400 when it is refused."""
        if request.template is not None:
            template, system = request.template, None
        else:
            template, system = self.template.template, self.template.system
        messages = apply_template(request.prompt.messages, template, system)
        processor = self.generator.processor
        text = processor.render(messages) + assistant_prefix
        try:
            return processor.encode(text, request.prompt.images, max_length=self.config.max_prompt_tokens)
        except PromptTooLongError as error:
            raise bad_request(str(error)) from error
        except ValueError as error:
            raise bad_request(f"cannot build the prompt: {error}") from error


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0 picks a free one) with a deep accept backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class RethinkerServer:
    """uvicorn on a background thread, and the generation worker; `stop` cancels generation, then drains requests."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        config = state.config
        self.socket = listen(config.host, config.port, config.backlog)
        uvicorn_config = uvicorn.Config(
            AccessLog(build_app(state)),
            http="h11",
            loop="asyncio",
            lifespan="off",
            log_config=None,
            access_log=False,
            backlog=config.backlog,
            limit_concurrency=config.max_connections,
            timeout_graceful_shutdown=int(config.shutdown_timeout_s),
        )
        self.uvicorn = uvicorn.Server(uvicorn_config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL the server listens on."""
        host, port = self.socket.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        """Whether the HTTP thread or the generation worker is still running."""
        return self.state.worker.alive or (self._thread is not None and self._thread.is_alive())

    def start(self) -> None:
        """Start the worker, then serve on a background thread; returns once requests are accepted."""
        self.state.worker.start()
        url = self.url
        self._thread = threading.Thread(
            target=self.uvicorn.run, kwargs={"sockets": [self.socket]}, name="rethinker-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the HTTP server at {url} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Refuse new generation and cancel what is queued or running (in-flight requests end with a clean error or
        finished stream), then close the socket once open requests are answered (at most `shutdown_timeout_s`)."""
        self.state.worker.stop()
        self.uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(self.state.config.shutdown_timeout_s + 5)
        self.socket.close()


def build_server(config: ServeConfig, generator: Generator, model_id: str) -> RethinkerServer:
    """A server bound to `config.host:config.port` (port 0 picks a free one), not yet started.

    Images are brought within the processor's pixel bounds as they are decoded (as in training) unless the
    configuration sets its own, and the default template is chosen from the model's training run when
    `config.template` is `auto` (UserError when unreadable).
    """
    size = generator.processor.image_processor.size
    config = dataclasses.replace(
        config,
        min_pixels=config.min_pixels if config.min_pixels is not None else size.shortest_edge,
        max_pixels=config.max_pixels if config.max_pixels is not None else size.longest_edge,
    )
    template = choose_template(config.template, config.system, Path(generator.model.name_or_path))
    logger.info("instruction template: %s (%s)", template.name, template.source)
    state = ServerState(
        config=config,
        generator=generator,
        worker=GenerationWorker(generator, config.max_queue),
        pixels=PixelBudget(config.max_decoding_pixels),
        template=template,
        model_id=model_id,
        created=int(time.time()),
        static=load_static(),
        examples=demo_examples(),
    )
    return RethinkerServer(state)
