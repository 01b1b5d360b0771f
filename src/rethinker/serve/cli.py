"""`rethinker serve`: an OpenAI-compatible API and a web demo over a local checkpoint or the tiny model."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from rethinker.errors import UserError
from rethinker.models.loading import DTYPES, load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.prompts import TEMPLATES
from rethinker.serve.app import build_server
from rethinker.serve.config import ServeConfig
from rethinker.serve.generation import Generator

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `serve` sub-command on the main parser's sub-parsers; sets `func` to `run`."""
    defaults = ServeConfig()
    parser = subparsers.add_parser("serve", help="serve a model: OpenAI-compatible API and a local web demo")
    parser.add_argument("--model", default=defaults.model, help="local checkpoint directory, or 'tiny'")
    parser.add_argument("--host", default=defaults.host, help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--device", default=defaults.device, help="'auto' (CUDA when present), 'cpu', 'cuda:0', ...")
    parser.add_argument("--dtype", default=defaults.dtype, choices=sorted(DTYPES))
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue, help="requests running or waiting")
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens, help="cap on max_tokens")
    parser.add_argument("--max-prompt-tokens", type=int, default=defaults.max_prompt_tokens)
    parser.add_argument("--min-pixels", type=int, default=None, help="resize smaller images up to this area")
    parser.add_argument("--max-pixels", type=int, default=None, help="resize larger images down to this area")
    parser.add_argument("--max-image-bytes", type=int, default=defaults.max_image_bytes)
    parser.add_argument("--max-image-pixels", type=int, default=defaults.max_image_pixels, help="refused above this")
    parser.add_argument(
        "--max-request-pixels",
        type=int,
        default=defaults.max_request_pixels,
        help="a request whose images hold more pixels in all is refused with 413",
    )
    parser.add_argument(
        "--max-decoding-pixels",
        type=int,
        default=defaults.max_decoding_pixels,
        help="full-size image pixels decoded at once across the server",
    )
    parser.add_argument(
        "--template",
        default=defaults.template,
        help=f"instruction template applied to each question: 'auto' (the training run's config.yaml, else 'plain'), "
        f"one of {sorted(TEMPLATES)}, or text containing {{question}}; a request's 'template' field overrides it",
    )
    parser.add_argument("--system", default=None, help="system prompt with --template: a name ('r1') or text")
    parser.add_argument(
        "--allow-files",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder that file:// image URLs may read (repeatable; none by default)",
    )
    parser.set_defaults(func=run)
    return parser


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    """The server configuration the command-line arguments describe: each option fills the field of its name."""
    options = {field.name: getattr(args, field.name) for field in fields(ServeConfig) if hasattr(args, field.name)}
    roots = tuple(Path(root).resolve() for root in args.allow_files)
    return ServeConfig(**{**options, "file_roots": roots})


def load_generator(config: ServeConfig) -> Generator:
    """Load the model and processor named by the configuration onto its device."""
    path = resolve_model_path(config.model)
    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(path, config.dtype).to(device)
    return Generator(model, load_processor(path, config.min_pixels, config.max_pixels))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _wait_for_stop_signal() -> int:
    """Block until SIGINT or SIGTERM arrives; the signal's number."""
    received: list[int] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT (Ctrl-C) or SIGTERM, then cancel generation, answer open requests and close the socket."""
    try:
        config = config_from_args(args)
        generator = load_generator(config)
    except (ValueError, FileNotFoundError) as error:
        raise UserError(str(error)) from error
    if not _is_loopback(config.host):
        logger.warning("binding %s: anyone who can reach this address can use the model", config.host)
    try:
        server = build_server(config, generator, model_id=config.model)
    except OSError as error:
        raise UserError(f"cannot listen on {config.host}:{config.port}: {error}") from error
    server.start()
    template = server.state.template
    print(
        f"serving {config.model} at {server.url} (demo at {server.url}/, API at {server.url}/v1); "
        f"template {template.name} ({template.source})",
        flush=True,
    )
    try:
        received = _wait_for_stop_signal()
        print(f"stopping on {signal.Signals(received).name}", flush=True)
    finally:
        server.stop()
    return 0
