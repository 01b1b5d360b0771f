"""Judge-based answer extraction: the pure parts, a faulty endpoint (errors, garbage, rambling), the reply cache that
makes rescoring free, the API key kept out of every file, and the project's own server as the judge."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from rethinker.eval.judge import AnswerJudge, JudgeError, JudgeSettings, answer_of, boxed_statement
from rethinker.eval.judge_cache import JudgeCache, reply_key
from rethinker.eval.judge_prompts import MAX_JUDGED_RESPONSE_CHARS, extraction_messages
from rethinker.eval.registry import get_benchmark
from rethinker.eval.rescore import oracle_responses

FIXTURES = Path(__file__).parent / "fixtures"
MATHVISTA_DATA = FIXTURES / "mathvista_testmini.json"
SECRET = "sk-test-0123456789abcdef"
MARKER = re.compile(r"\[\[(\w+)\]\]")
CLI = Callable[..., Any]


# ---------------------------------------------------------------- pure parts


def test_answer_of_reads_one_short_line_and_refuses_rambling() -> None:
    assert answer_of("  B \n") == "B"
    assert answer_of("Extracted answer: 0.33\nbecause ...") == "0.33"
    assert answer_of("\n\n") is None
    assert answer_of("x" * 201) is None
    assert boxed_statement("[1, 2]") == "The final answer is $\\boxed{[1, 2]}$."


def test_the_request_shows_examples_then_the_end_of_a_long_response() -> None:
    long = "start " + "step. " * 3000 + "so the answer is 7"
    (message,) = extraction_messages("mathvista", "How many?", long)
    content = message["content"]
    assert content.count("Extracted answer:") == 6 and content.endswith("so the answer is 7\n\nExtracted answer:")
    assert "start" not in content and len(content) < MAX_JUDGED_RESPONSE_CHARS + 4000
    mathverse = extraction_messages("mathverse", "q", "r")[0]["content"]
    assert "y=2x+1" in mathverse and "0.33" not in mathverse


def test_public_url_drops_credentials_and_query() -> None:
    settings = JudgeSettings("https://user:pw@api.example.com:8443/v1?key=abc", "m")
    assert settings.public_url() == "https://api.example.com:8443/v1"


def test_cache_keeps_replies_and_skips_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    key = reply_key("m", [{"role": "user", "content": "q"}])
    assert key != reply_key("other", [{"role": "user", "content": "q"}])
    JudgeCache(path).put(key, "B")
    with path.open("a") as handle:
        handle.write('{"key": "cut')
    cache = JudgeCache(path)
    assert cache.get(key) == "B" and cache.unreadable_lines == 1
    cache.put("k2", "C")
    again = JudgeCache(path)
    assert (again.get(key), again.get("k2"), again.unreadable_lines) == ("B", "C", 1)


# ---------------------------------------------------------------- a faulty local endpoint


class FakeJudge(BaseHTTPRequestHandler):
    """Answers by the `[[marker]]` in the response to read: `fail` 500, `garbage` non-JSON, `ramble` a long reply,
    `empty` no choices; any other marker (`default` when there is none) gets the answer the test set for it."""

    answers: dict[str, str] = {}
    seen: list[dict[str, Any]] = []
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        try:
            time.sleep(0.05)
            self._answer()
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def _answer(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        markers = MARKER.findall(content.rsplit("Now the problem to read", 1)[1])
        marker = markers[-1] if markers else "default"
        type(self).seen.append({"marker": marker, "auth": self.headers.get("Authorization"), "model": body["model"]})
        if marker == "fail":
            self._send(500, b'{"error": "boom"}')
        elif marker == "garbage":
            self._send(200, b"<html>not json")
        elif marker == "empty":
            self._send(200, b'{"choices": []}')
        else:
            reply = "I will now solve it: " * 30 if marker == "ramble" else self.answers[marker]
            message = {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}
            self._send(200, json.dumps(message).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_judge() -> Iterator[tuple[str, type[FakeJudge]]]:
    handler = type("Judge", (FakeJudge,), {"answers": {}, "seen": [], "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def gold_reply(benchmark_name: str, example: Any) -> str:
    """The answer a judge should extract for the gold: the boxed content of the oracle response."""
    oracle = oracle_responses(get_benchmark(benchmark_name), [example])[example.id]
    return re.search(r"\\boxed\{(.*)\}", oracle).group(1)


def judge_argv(url: str, responses: Path, out: Path, cache: Path) -> list[str]:
    return [
        "score",
        "--benchmark",
        "mathvista",
        "--data",
        str(MATHVISTA_DATA),
        "--responses",
        str(responses),
        "--out",
        str(out),
        "--judge",
        url,
        "--judge-model",
        "judge-x",
        "--judge-api-key-env",
        "JUDGE_KEY",
        "--judge-attempts",
        "2",
        "--judge-concurrency",
        "2",
        "--judge-cache",
        str(cache),
    ]


def test_score_with_a_faulty_judge_falls_back_to_the_rules_and_rescoring_is_free(
    rethinker_cli: CLI, fake_judge: tuple[str, type[FakeJudge]], tmp_path: Path
) -> None:
    url, handler = fake_judge
    examples = get_benchmark("mathvista").load(MATHVISTA_DATA)
    faults = {"fail", "garbage", "ramble", "empty"}
    markers = ["ok0", "ok1", "ok2", "ok3", *sorted(faults)]
    handler.answers = {markers[i]: gold_reply("mathvista", example) for i, example in enumerate(examples[:4])}
    # The good ones state no answer the rules can read; the judge's extraction makes them right.
    text = {marker: f"[[{marker}]] I worked through the figure carefully." for marker in markers}
    responses = tmp_path / "responses.jsonl"
    responses.write_text(
        "".join(json.dumps({"id": ex.id, "response": text[m]}) + "\n" for ex, m in zip(examples, markers, strict=True))
    )
    cache = tmp_path / "cache" / "judge.jsonl"

    result = rethinker_cli(*judge_argv(url, responses, tmp_path / "out", cache), JUDGE_KEY=SECRET)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["extractors"] == {"judge": 4, "rules-fallback": 4}
    assert written["average"]["correct"] == 4
    judge = written["judge"]
    assert judge["failed_requests"] == {"server_error": 1, "malformed_json": 1, "missing_field": 1}
    assert judge["fallback_reasons"] == {
        "server_error": 1,
        "malformed_json": 1,
        "unusable_reply": 1,
        "missing_field": 1,
    }
    assert judge["failed_attempts"]["server_error"] == 2 and judge["model"] == "judge-x"
    samples = {s["id"]: s for s in map(json.loads, (tmp_path / "out" / "samples.jsonl").read_text().splitlines())}
    first = samples[examples[0].id]["details"]
    assert (first["extractor"], first["judge_answer"]) == ("judge", handler.answers["ok0"])
    assert samples[examples[4].id]["details"]["extractor"] == "rules-fallback"
    assert {entry["auth"] for entry in handler.seen} == {f"Bearer {SECRET}"}
    assert {entry["model"] for entry in handler.seen} == {"judge-x"}
    assert handler.most_in_flight == 2
    for path in [*(tmp_path / "out").iterdir(), cache]:
        assert SECRET not in path.read_text()
    assert SECRET not in result.stdout + result.stderr

    asked = len(handler.seen)
    again = rethinker_cli(*judge_argv(url, responses, tmp_path / "again", cache), JUDGE_KEY=SECRET)
    assert again.returncode == 0, again.stderr[-3000:]
    rescored = json.loads((tmp_path / "again" / "results.json").read_text())
    assert rescored["judge"]["cache_hits"] == 5 and rescored["judge"]["requests"] == 3
    assert {entry["marker"] for entry in handler.seen[asked:]} == {"fail", "garbage", "empty"}
    assert rescored["average"] == written["average"]


def mmmath_data(folder: Path, count: int = 3) -> Path:
    """A text-only MM-Math file whose gold answers are 2, 3, 4..."""
    rows = {
        str(index): {
            "question": f"Find x in the figure ({index}).",
            "file_name": "",
            "solution": f"So $\\boxed{{{index + 2}}}$.",
            "year": "八年级上学期",
            "difficult": "容易",
            "knowledge": ["Functions"],
        }
        for index in range(count)
    }
    path = folder / "mmmath.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_resuming_a_finished_run_with_a_judge_rescores_it_without_generating(
    rethinker_cli: CLI, fake_judge: tuple[str, type[FakeJudge]], tmp_path: Path
) -> None:
    url, handler = fake_judge
    handler.answers = {"default": "2"}
    data = mmmath_data(tmp_path)
    argv = ["eval", "--model", "tiny", "--benchmark", "mmmath", "--data", str(data), "--out", str(tmp_path / "out")]
    argv += ["--max-new-tokens", "4"]
    assert rethinker_cli(*argv).returncode == 0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["extractors"] == {"rules": 3}
    judge = ["--judge", url, "--judge-model", "m", "--judge-cache", str(tmp_path / "cache.jsonl")]
    result = rethinker_cli(*argv, *judge)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (written["counts"]["resumed"], written["counts"]["generated"]) == (3, 0)
    assert written["extractors"] == {"judge": 3} and written["overall"]["correct"] == 1
    assert len(handler.seen) == 3


def test_judge_needs_a_model_name(rethinker_cli: CLI, user_error: Callable[..., None], tmp_path: Path) -> None:
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"id": "1", "response": "x"}) + "\n")
    base = ["score", "--benchmark", "mathvista", "--data", str(MATHVISTA_DATA), "--responses", str(responses)]
    result = rethinker_cli(*base, "--out", str(tmp_path / "a"), "--judge", "http://127.0.0.1:9/v1")
    user_error(result, "--judge needs --judge-model")


def test_judge_settings_name_a_missing_key_variable_and_a_bad_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(JudgeError, match="NO_SUCH_KEY_VAR is not set"):
        AnswerJudge(JudgeSettings("http://127.0.0.1:9/v1", "m", api_key_env="NO_SUCH_KEY_VAR"))
    with pytest.raises(JudgeError, match="--judge settings: base_url"):
        JudgeSettings("ftp://x", "m").endpoint()


# ---------------------------------------------------------------- the project's own server as the judge


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_tiny(tmp_path: Path) -> Iterator[str]:
    """`rethinker serve --model tiny` in a subprocess, on a free loopback port; yields its /v1 URL once it answers
    HTTP at all (any status: only the CLI and /v1/chat/completions are the server's stable surface)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("rethinker")), "serve", "--model", "tiny", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*command, "--max-new-tokens", "8"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    url = f"http://127.0.0.1:{port}"
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "rethinker serve did not come up"
        try:
            httpx.get(f"{url}/v1/chat/completions", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield f"{url}/v1"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_eval_with_rethinker_serve_as_the_judge(rethinker_cli: CLI, served_tiny: str, tmp_path: Path) -> None:
    data = mmmath_data(tmp_path)
    argv = ["eval", "--model", "tiny", "--benchmark", "mmmath", "--data", str(data), "--out", str(tmp_path / "out")]
    judge = ["--judge", served_tiny, "--judge-model", "tiny", "--judge-cache", str(tmp_path / "cache.jsonl")]
    result = rethinker_cli(*argv, "--max-new-tokens", "6", *judge)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["judge"]["succeeded"] == written["judge"]["requests"] == 3
    assert written["judge"]["url"] == served_tiny and sum(written["extractors"].values()) == 3
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    for sample in samples:
        details = sample["details"]
        assert details["extractor"] == "judge" or details["judge_failure"] == "unusable_reply"
        if details["extractor"] == "judge":
            assert sample["extracted"] == details["judge_answer"] and sample["response"] != details["judge_answer"]
