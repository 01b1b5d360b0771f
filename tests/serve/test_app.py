"""The server over loopback with the tiny model: OpenAI routes, streaming, errors, the demo's API and page."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rethinker.data.images import load_image
from rethinker.rollout.triggers import BARE_WAIT
from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.generation import Generator
from rethinker.serve.rethink import rethink_verdict

PAGE_IDS = ("image-input", "question", "template", "send", "examples", "thinking", "answer", "rethink", "error")


def _events(response: httpx.Response) -> list[Any]:
    """The data payloads of a server-sent event stream, `[DONE]` kept as a string."""
    lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in lines]


def _stream(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    with client.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        return _events(response)


def _assembled(events: list[Any], n: int = 1) -> list[str]:
    texts = [""] * n
    for event in events[:-1]:
        for choice in event["choices"]:
            texts[choice["index"]] += choice["delta"].get("content", "")
    return texts


def test_models_lists_the_served_model(client: httpx.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["tiny"]


def test_chat_with_base64_image_and_with_file_url(
    client: httpx.Client, generator: Generator, image_root: Path, png, to_data_url, user_message
) -> None:
    settings = {"temperature": 0, "max_tokens": 12}
    by_data = client.post("/v1/chat/completions", json={"messages": user_message(to_data_url(png())), **settings})
    by_file = client.post(
        "/v1/chat/completions", json={"messages": user_message((image_root / "dots.png").as_uri()), **settings}
    )
    assert by_data.status_code == by_file.status_code == 200
    reply = by_data.json()
    assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
    (choice,) = reply["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("stop", "length")
    processor = generator.processor
    content = [{"type": "image"}, {"type": "text", "text": "How many dots are there?"}]
    prompt = processor.encode(processor.render([{"role": "user", "content": content}]), [load_image(png())])
    usage = reply["usage"]
    assert usage["prompt_tokens"] == prompt.length
    assert 1 <= usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if choice["finish_reason"] == "length":
        assert usage["completion_tokens"] == 12
    assert by_file.json()["choices"][0]["message"]["content"] == choice["message"]["content"]


def test_n_choices_and_their_usage(client: httpx.Client, png, to_data_url, user_message) -> None:
    body = {"messages": user_message(to_data_url(png())), "n": 2, "max_tokens": 5, "ignore_eos": True, "seed": 1}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert [choice["index"] for choice in reply["choices"]] == [0, 1]
    assert [choice["finish_reason"] for choice in reply["choices"]] == ["length", "length"]
    assert reply["usage"]["completion_tokens"] == 10


@pytest.mark.parametrize("sampling", [{"temperature": 0}, {"temperature": 1.0, "top_p": 0.9, "seed": 11}])
def test_stream_assembles_into_the_non_streamed_text(
    client: httpx.Client, png, to_data_url, user_message, sampling: dict[str, Any]
) -> None:
    body = {"messages": user_message(to_data_url(png())), "max_tokens": 24, **sampling}
    whole = client.post("/v1/chat/completions", json=body).json()
    events = _stream(client, "/v1/chat/completions", {**body, "stream_options": {"include_usage": True}})
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(event["object"] == "chat.completion.chunk" for event in events[:-1])
    finishes = [c["finish_reason"] for e in events[:-2] for c in e["choices"] if c["finish_reason"]]
    assert finishes == [whole["choices"][0]["finish_reason"]]
    assert events[-2]["choices"] == [] and events[-2]["usage"] == whole["usage"]
    assert _assembled(events[:-1]) == [whole["choices"][0]["message"]["content"]]


def _bad_requests(image_root: Path, png, to_data_url) -> list[tuple[Any, str]]:
    def chat(url: str) -> dict[str, Any]:
        content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "?"}]
        return {"messages": [{"role": "user", "content": content}]}

    return [
        ({"messages": []}, "'messages' must be a non-empty list"),
        (chat(to_data_url(b"GIF? no, just text")), "not an image"),
        (chat(to_data_url(b"\0" * 300_000)), "too large"),
        (chat(to_data_url(png((1200, 1000)))), "pixel limit"),
        (chat("data:image/png;base64,%%%"), "not valid base64"),
        (chat(Path("/etc/passwd").as_uri()), "outside the allowed roots"),
        (chat((image_root / "absent.png").as_uri()), "not found"),
        (chat("http://127.0.0.1/x.png"), "unsupported image URL scheme"),
        ({"messages": [{"role": "user", "content": "a " * 15_000}]}, "over the limit"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": -1}, "'temperature'"),
    ]


def test_bad_input_gets_400_with_a_message(client: httpx.Client, image_root: Path, png, to_data_url) -> None:
    for body, reason in _bad_requests(image_root, png, to_data_url):
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, reason
        error = response.json()["error"]
        assert reason in error["message"] and error["type"] == "invalid_request_error"


def test_malformed_bodies_and_unknown_routes(client: httpx.Client) -> None:
    not_json = client.post("/v1/chat/completions", content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    not_object = client.post("/v1/chat/completions", json=[1, 2])
    assert not_object.status_code == 400 and "JSON object" in not_object.json()["error"]["message"]
    form = client.post("/v1/chat/completions", content=b"{}", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415 and "application/json" in form.json()["error"]["message"]
    missing = client.post("/v1/completions", json={})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert client.get("/static/../cli.py").status_code == 404


def test_oversized_body_gets_413(generator: Generator, config_for) -> None:
    server = build_server(config_for(max_body_bytes=2_000), generator, model_id="tiny")
    server.start()
    try:
        body = {"messages": [{"role": "user", "content": "x" * 5_000}]}
        response = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
        assert response.status_code == 413 and "byte limit" in response.json()["error"]["message"]
    finally:
        server.stop()


def test_rethink_continues_after_the_trigger(client: httpx.Client, png, to_data_url, user_message) -> None:
    first = "I count 3 red dots. \\boxed{3}"
    body = {"messages": user_message(to_data_url(png())), "response": first, "temperature": 0, "max_tokens": 8}
    reply = client.post("/api/rethink", json=body).json()
    assert reply["prefix"] == first + BARE_WAIT
    (choice,) = reply["choices"]
    assert choice["rethink"] == rethink_verdict(first, reply["prefix"] + choice["message"]["content"])
    assert choice["rethink"]["first_answer"] == "3"

    cut = client.post("/api/rethink", json={**body, "cut": True, "trigger": "\n\nWait, let's double check"}).json()
    assert cut["prefix"] == "I count 3 red dots.\n\nWait, let's double check"
    events = _stream(client, "/api/rethink", body)
    finals = [c for e in events[:-1] for c in e["choices"] if c["finish_reason"]]
    assert finals[0]["rethink"] == choice["rethink"]
    assert _assembled(events) == [choice["message"]["content"]]


def test_rethink_refuses_bad_input(client: httpx.Client, png, to_data_url, user_message) -> None:
    base = {"messages": user_message(to_data_url(png())), "response": "\\boxed{1}"}
    for changes, reason in (
        ({"response": " "}, "'response'"),
        ({"trigger": "x" * 300}, "'trigger'"),
        ({"cut": "yes"}, "'cut'"),
    ):
        response = client.post("/api/rethink", json={**base, **changes})
        assert response.status_code == 400 and reason in response.json()["error"]["message"]


def test_demo_page_assets_examples_and_settings(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element_id in (*PAGE_IDS, "rethink-output"):
        assert f'id="{element_id}"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")
    script = client.get("/static/app.js")
    assert script.headers["content-type"].startswith("text/javascript") and "/api/rethink" in script.text
    assert client.get("/static/style.css").headers["content-type"] == "text/css"
    settings = client.get("/api/settings").json()
    assert set(settings["templates"]) == {"default", "rethink", "r1"}
    assert all("{question}" in template["user"] for template in settings["templates"].values())
    assert "<think>" in settings["templates"]["r1"]["system"]
    assert settings["triggers"]["wait"] == BARE_WAIT
    examples = client.get("/api/examples").json()
    assert len(examples) >= 3 and len({e["question"] for e in examples}) == len(examples)
    content = [{"type": "image_url", "image_url": {"url": examples[0]["image"]}}, {"type": "text", "text": "?"}]
    used = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": content}], "max_tokens": 2}
    )
    assert used.status_code == 200


def test_queue_bound_gives_503_while_other_routes_stay_responsive(
    server: RethinkerServer, png, to_data_url, user_message
) -> None:
    assert server.state.config.max_queue == 2
    body = {"messages": user_message(to_data_url(png())), "max_tokens": 48, "ignore_eos": True, "stream": True}
    with (
        httpx.Client(base_url=server.url, timeout=60) as first_client,
        httpx.Client(base_url=server.url, timeout=60) as second_client,
        httpx.Client(base_url=server.url, timeout=5) as third_client,
        first_client.stream("POST", "/v1/chat/completions", json=body) as first,
        second_client.stream("POST", "/v1/chat/completions", json=body) as second,
    ):
        first_lines, second_lines = first.iter_lines(), second.iter_lines()
        assert "assistant" in next(first_lines) and "assistant" in next(second_lines)
        refused = third_client.post("/v1/chat/completions", json={**body, "stream": False})
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "server_busy"
        assert third_client.get("/v1/models").status_code == 200
        assert third_client.get("/").status_code == 200
        for lines in (first_lines, second_lines):
            rest = [line for line in lines if line]
            assert rest[-1] == "data: [DONE]"
            assert json.loads(rest[-2][6:])["choices"][0]["finish_reason"] == "length"
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.post("/v1/chat/completions", json={**body, "stream": False, "max_tokens": 2}).status_code == 200


def test_stop_cancels_a_running_generation_and_frees_the_port(
    generator: Generator, config_for, png, to_data_url, user_message
) -> None:
    server = build_server(config_for(max_new_tokens=2000), generator, model_id="tiny")
    server.start()
    body = {"messages": user_message(to_data_url(png())), "max_tokens": 2000, "ignore_eos": True}
    outcome: dict[str, Any] = {}

    def ask() -> None:
        try:
            outcome["reply"] = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60).json()
        except httpx.HTTPError as error:
            outcome["error"] = error

    asker = threading.Thread(target=ask)
    asker.start()
    deadline = time.monotonic() + 20
    while server.state.worker.admitted == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    url = server.url
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    asker.join(timeout=10)
    assert not asker.is_alive()
    reply = outcome.get("reply", {})
    if "error" in reply:
        assert "cancelled" in reply["error"]["message"]
    elif reply:
        assert reply["usage"]["completion_tokens"] < 2000
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/models", timeout=2)
