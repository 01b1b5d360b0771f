"""A scripted OpenAI-compatible chat server on a loopback port, and VQA inputs for the pipeline tests.

Test prompts are `COT|question|answer`, `DESC|question|thinking` and `REASON|question|description`, so the server
answers each stage deterministically. Markers in a question choose the server's behaviour for that record:
[wrong] a wrong final answer, [blind] a reasoning that cannot see the image, [500] always HTTP 500, [flaky] HTTP 500
on the first attempt of each stage, [429] HTTP 429 once, [slow] answers after the client's timeout, [badjson] a body
that is not JSON, [nofield] JSON without choices, [400] HTTP 400, [echo400] HTTP 400 echoing the Authorization header,
[408] HTTP 408 once, [empty] an empty message on the first attempt of each stage. Setting `healed` on the server
turns every fault off, as when a faulty endpoint recovers before a resumed run.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from rethinker.rewards.verify import Verifier

TEST_PROMPTS = {
    "pseudo_cot": "COT|{question}|{answer}",
    "description": "DESC|{question}|{thinking_process}",
    "reasoning": "REASON|{question}|{description}",
}


class ScriptedChatServer(ThreadingHTTPServer):
    """Answers `/v1/chat/completions` from the prompt text; records every request it gets."""

    daemon_threads = True

    def __init__(self, delay_s: float = 0.0, slow_s: float = 1.0) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.delay_s = delay_s
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.healed = False

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def questions_asked(self) -> list[str]:
        """The question of every request received so far."""
        with self.lock:
            return [request["question"] for request in self.requests]


def number_in(text: str) -> int:
    """The last integer in a text."""
    return int(re.findall(r"-?\d+", text)[-1])


def reply_for(stage: str, question: str, rest: str) -> dict[str, Any]:
    """The message a well-behaved model would send for this stage."""
    if stage == "COT":
        return {"content": f"The figure shows the value, so the answer is {number_in(rest)}."}
    if stage == "DESC":
        return {"content": f"The image shows a card with the number {number_in(rest)} written on it."}
    value = number_in(rest) + (1 if "[wrong]" in question else 0)
    if "[blind]" in question:
        thinking = f"I cannot see the image, but the text suggests {value}. So the answer is {value}."
    else:
        thinking = f"The description says the card shows {value}. Reading it off, the answer is {value}."
    return {"reasoning_content": thinking, "content": f"The answer is \\boxed{{{value}}}."}


class ChatHandler(BaseHTTPRequestHandler):
    """One request: parse the prompt, misbehave as the question's markers ask, or answer."""

    server: ScriptedChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = payload["messages"][-1]["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        text = next(part["text"] for part in parts if part["type"] == "text")
        images = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
        for url in images:
            assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",", 1)[1])
        stage, question, rest = text.split("|", 2)
        with self.server.lock:
            self.server.attempts[(stage, question)] += 1
            attempt = self.server.attempts[(stage, question)]
            self.server.requests.append(
                {"stage": stage, "question": question, "images": len(images), "auth": self.headers.get("Authorization")}
            )
        time.sleep(self.server.delay_s)
        if self.server.healed:
            question = re.sub(r"\[\w+\]", "", question)
        if "[empty]" in question and attempt == 1:
            return self.send(
                200, json.dumps({"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]}).encode()
            )
        if "[500]" in question or ("[flaky]" in question and attempt == 1):
            return self.send(500, b'{"error": "overloaded"}')
        if "[429]" in question and attempt == 1:
            return self.send(429, b"{}", {"Retry-After": "0"})
        if "[400]" in question:
            return self.send(400, b'{"error": "prompt too long"}')
        if "[echo400]" in question:
            return self.send(400, json.dumps({"error": "bad key", "got": self.headers.get("Authorization")}).encode())
        if "[408]" in question and attempt == 1:
            return self.send(408, b"{}")
        if "[slow]" in question:
            time.sleep(self.server.slow_s)
        if "[badjson]" in question:
            return self.send(200, b'{"choices": [{"message": ')
        if "[nofield]" in question:
            return self.send(200, b'{"choices": []}')
        message = {"role": "assistant", **reply_for(stage, question, rest)}
        body = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "model": payload["model"]}
        self.send(200, json.dumps(body).encode())


def write_vqa(folder: Path, questions: list[str], images_per_record: int = 1) -> Path:
    """A VQA JSONL file (answers 10, 11, ...) with small PNGs beside it."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for index, question in enumerate(questions):
        refs = []
        for image_index in range(images_per_record):
            ref = f"img/{index}_{image_index}.png"
            Image.new("RGB", (8, 8), (index * 7 % 256, image_index * 50, 90)).save(folder / ref)
            refs.append(ref)
        rows.append({"id": f"r{index}", "image": refs if images_per_record > 1 else refs[0]})
        rows[-1].update(question=f"q{index} {question}", answer=str(10 + index))
    path = folder / "vqa.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def coldstart_config(input_path: Path, output_dir: Path, url: str, **endpoint: Any) -> dict[str, Any]:
    """A config (as plain data) with fast timeouts and backoff, for the scripted server."""
    fast = {"base_url": url, "timeout_s": 0.5, "max_attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    fast.update(endpoint)
    return {
        "input": str(input_path),
        "output_dir": str(output_dir),
        "mllm": {"model": "vlm", **fast},
        "reasoner": {"model": "r1", **fast},
        "prompts": TEST_PROMPTS,
        "filters": {"min_reasoning_chars": 10},
        "records_in_flight": 4,
        "progress": False,
        "fsync": False,
    }


def save_config(path: Path, data: dict[str, Any]) -> Path:
    """Write a config dictionary as YAML."""
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file (none if it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def verifier() -> Iterator[Verifier]:
    """One answer verifier for every filter test (its worker starts once); a generous limit for loaded machines."""
    with Verifier(timeout_s=10.0) as pool:
        yield pool


@pytest.fixture
def chat_server() -> Iterator[ScriptedChatServer]:
    """A running scripted server, shut down after the test."""
    server = ScriptedChatServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_vqa(tmp_path: Path) -> Callable[..., Path]:
    """`make_vqa(questions, images_per_record=1)` writes a VQA file under tmp_path/data."""
    return lambda questions, images_per_record=1: write_vqa(tmp_path / "data", questions, images_per_record)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """`make_config(input_path, url, **endpoint)`: a fast config writing to tmp_path/out."""
    return lambda input_path, url, **endpoint: coldstart_config(input_path, tmp_path / "out", url, **endpoint)


@pytest.fixture
def save_yaml(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """`save_yaml(data)` writes a config to tmp_path/coldstart.yaml."""
    return lambda data: save_config(tmp_path / "coldstart.yaml", data)


@pytest.fixture
def jsonl() -> Callable[[Path], list[dict[str, Any]]]:
    """`jsonl(path)` reads every record of a JSONL file without repairing it."""
    return read_jsonl
