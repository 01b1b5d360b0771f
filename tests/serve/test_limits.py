"""Bounded memory and load: pixel limits before decoding, queue admission before reading, deep JSON, bursts of streams,
keep-alive, and one access-log line per request without secrets."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.generation import Generator
from rethinker.serve.image_urls import decode_images

SIDE = 600
PIXELS = SIDE * SIDE


@pytest.fixture(scope="module")
def small_server(generator: Generator, config_for) -> Iterator[RethinkerServer]:
    """A one-place queue, and room to decode only one 600x600 image at a time; two such images per request."""
    config = config_for(
        max_queue=1,
        max_new_tokens=200,
        max_image_pixels=PIXELS,
        max_decoding_pixels=PIXELS,
        max_request_pixels=2 * PIXELS,
        body_timeout_s=1.0,
    )
    server = build_server(config, generator, model_id="tiny")
    server.start()
    yield server
    server.stop()


def _images(count: int, png, to_data_url) -> list[dict[str, Any]]:
    parts = [{"type": "image_url", "image_url": {"url": to_data_url(png((SIDE, SIDE)))}} for _ in range(count)]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": "How many dots?"}]}]


def test_too_many_pixels_per_request_get_413_before_any_decoding(small_server: RethinkerServer, png, to_data_url):
    with httpx.Client(base_url=small_server.url, timeout=60) as client:
        refused = client.post("/v1/chat/completions", json={"messages": _images(3, png, to_data_url), "max_tokens": 1})
        assert refused.status_code == 413
        error = refused.json()["error"]
        assert (
            error["type"] == "request_too_large"
            and f"over the {2 * PIXELS} pixel limit per request" in error["message"]
        )
        assert client.get("/health").json()["decoding_pixels_peak"] == 0
        accepted = client.post("/v1/chat/completions", json={"messages": _images(2, png, to_data_url), "max_tokens": 1})
        assert accepted.status_code == 200
        assert client.get("/health").json()["decoding_pixels_peak"] == PIXELS, "images must decode one at a time"


def test_images_are_shrunk_to_the_model_bounds_as_they_are_decoded(small_server: RethinkerServer, png, to_data_url):
    size = small_server.state.generator.processor.image_processor.size
    config = small_server.state.config
    assert (config.min_pixels, config.max_pixels) == (size.shortest_edge, size.longest_edge)
    (image,) = decode_images([to_data_url(png((SIDE, SIDE)))], config, small_server.state.pixels)
    assert image.width * image.height <= size.longest_edge < PIXELS


def test_full_queue_gets_503_before_the_body_is_decoded(small_server: RethinkerServer, png, to_data_url, user_message):
    small_server.state.pixels.peak = 0
    hold = {"messages": user_message(to_data_url(png())), "max_tokens": 200, "ignore_eos": True, "stream": True}
    with (
        httpx.Client(base_url=small_server.url, timeout=60) as holder,
        httpx.Client(base_url=small_server.url, timeout=60) as client,
        holder.stream("POST", "/v1/chat/completions", json=hold) as running,
    ):
        lines = running.iter_lines()
        assert "assistant" in next(lines)
        peak = small_server.state.pixels.peak
        refused = client.post("/v1/chat/completions", json={"messages": _images(2, png, to_data_url)})
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "server_busy"
        assert small_server.state.pixels.peak == peak, "a refused request must not decode its images"
        assert [line for line in lines if line][-1] == "data: [DONE]"


def read_response(connection: socket.socket) -> str:
    """One whole HTTP response: headers and `content-length` bytes of body, however the server splits its writes."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _content_length(data):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _content_length(data: bytes) -> int:
    head = data.partition(b"\r\n\r\n")[0].decode().lower()
    return next((int(line.split(":", 1)[1]) for line in head.splitlines() if line.startswith("content-length:")), 0)


def test_a_body_that_never_arrives_gets_408_and_frees_its_queue_place(small_server: RethinkerServer) -> None:
    host, port = small_server.socket.getsockname()[:2]
    with socket.create_connection((host, port), timeout=10) as slow:
        head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        slow.sendall((head + "Content-Length: 100\r\n\r\n" + '{"messages": ').encode())
        reply = read_response(slow)
    assert reply.startswith("HTTP/1.1 408") and "did not arrive within 1 s" in reply
    assert small_server.state.worker.admitted == 0


def test_deeply_nested_json_gets_400(client: httpx.Client) -> None:
    depth = 100_000
    body = b"[" * depth + b"]" * depth
    response = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nests too deeply" in response.json()["error"]["message"]


async def _burst(url: str, body: dict[str, Any], count: int) -> list[tuple[int, list[str]]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one() -> tuple[int, list[str]]:
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                return response.status_code, [line async for line in response.aiter_lines() if line]

        return await asyncio.gather(*(one() for _ in range(count)))


def test_fifty_concurrent_streams_each_get_200_or_503_and_none_a_reset(
    server: RethinkerServer, png, to_data_url, user_message
) -> None:
    body = {"messages": user_message(to_data_url(png())), "max_tokens": 2, "stream": True}
    results = asyncio.run(_burst(server.url, body, 50))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    for status, lines in results:
        if status == 200:
            assert lines[-1] == "data: [DONE]"
        else:
            assert json.loads(lines[0])["error"]["type"] == "server_busy"


def test_connections_are_kept_alive_across_requests_and_streams(
    server: RethinkerServer, png, to_data_url, user_message
):
    host, port = server.socket.getsockname()[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request("GET", "/v1/models")
        first = connection.getresponse()
        first.read()
        opened = connection.sock
        body = json.dumps({"messages": user_message(to_data_url(png())), "max_tokens": 2, "stream": True})
        connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        stream = connection.getresponse()
        assert stream.status == 200 and stream.read().endswith(b"data: [DONE]\n\n")
        connection.request("GET", "/health")
        health = connection.getresponse()
        assert health.status == 200 and json.loads(health.read())["status"] == "ok"
        assert connection.sock is opened and opened is not None
    finally:
        connection.close()


def test_each_request_is_logged_once_without_query_or_secrets(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-do-not-log-1234"
    with caplog.at_level(logging.INFO, logger="rethinker.serve.access"):
        body = {"messages": [{"role": "user", "content": f"my key is {secret}"}], "max_tokens": 1}
        response = client.post(
            f"/v1/chat/completions?api_key={secret}", json=body, headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200
        client.get("/v1/nowhere")
        deadline = time.monotonic() + 5
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = [record.getMessage() for record in caplog.records if record.name == "rethinker.serve.access"]
    assert [line.split(" ")[1:4] for line in lines] == [
        ["POST", "/v1/chat/completions", "200"],
        ["GET", "/v1/nowhere", "404"],
    ]
    assert all(secret not in line for line in lines)
