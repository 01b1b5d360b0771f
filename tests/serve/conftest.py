"""A tiny-model server on a free loopback port, shared by the HTTP tests of this folder."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from rethinker.models.loading import load_model, load_processor
from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.config import ServeConfig
from rethinker.serve.generation import Generator


def png_bytes(size: tuple[int, int] = (56, 56), color: tuple[int, int, int] = (230, 30, 30)) -> bytes:
    """A small encoded PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    """A base64 data URL of `data`."""
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")


def image_message(url: str, text: str = "How many dots are there?") -> list[dict]:
    """One user message with an image part and a text part."""
    return [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]}
    ]


@pytest.fixture(scope="session")
def png() -> Callable[..., bytes]:
    """Makes small encoded PNGs."""
    return png_bytes


@pytest.fixture(scope="session")
def to_data_url() -> Callable[..., str]:
    """Wraps bytes in a base64 data URL."""
    return data_url


@pytest.fixture(scope="session")
def user_message() -> Callable[..., list[dict]]:
    """Makes a one-message chat with an image URL and a question."""
    return image_message


@pytest.fixture(scope="session")
def generator(tiny_dir: Path) -> Generator:
    """The tiny model and its processor, loaded once."""
    return Generator(load_model(tiny_dir), load_processor(tiny_dir))


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The only folder `file://` URLs may read in these tests; holds one PNG."""
    root = tmp_path_factory.mktemp("images")
    (root / "dots.png").write_bytes(png_bytes())
    return root


def serve_config(image_root: Path, **overrides: object) -> ServeConfig:
    """A loopback test configuration: free port, small limits."""
    settings: dict = {
        "port": 0,
        "max_queue": 2,
        "max_new_tokens": 48,
        "max_image_bytes": 200_000,
        "max_image_pixels": 1_000_000,
        "file_roots": (image_root,),
    }
    settings.update(overrides)
    return ServeConfig(**settings)


@pytest.fixture(scope="session")
def config_for(image_root: Path) -> Callable[..., ServeConfig]:
    """Makes test configurations with some settings changed."""
    return lambda **overrides: serve_config(image_root, **overrides)


@pytest.fixture(scope="module")
def server(generator: Generator, image_root: Path) -> Iterator[RethinkerServer]:
    """A started server, stopped after the module's tests."""
    server = build_server(serve_config(image_root), generator, model_id="tiny")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: RethinkerServer) -> Iterator[httpx.Client]:
    """An HTTP client for the shared server."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
