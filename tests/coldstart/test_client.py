"""The chat client: retries with counted reasons against a faulty endpoint, and an API key that never leaks."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rethinker.chat.client import (
    RETRYABLE_REASONS,
    ChatClient,
    ChatRequestError,
    backoff_delay,
    parse_reply,
    user_message,
)
from rethinker.chat.endpoint import EndpointConfig
from rethinker.coldstart.config import ColdstartConfig
from rethinker.coldstart.pipeline import run_pipeline


def test_backoff_grows_exponentially_within_its_cap_with_jitter() -> None:
    rng = random.Random(0)
    delays = [[backoff_delay(attempt, 1.0, 8.0, rng) for attempt in range(6)] for _ in range(50)]
    for attempt, ceiling in enumerate([1.0, 2.0, 4.0, 8.0, 8.0, 8.0]):
        column = [row[attempt] for row in delays]
        assert all(ceiling / 2 <= delay <= ceiling for delay in column)
        assert len(set(column)) > 1


def test_parse_reply_reads_content_and_separate_reasoning() -> None:
    body = {"choices": [{"message": {"content": "x", "reasoning_content": "why"}, "finish_reason": "length"}]}
    reply = parse_reply(body)
    assert (reply.content, reply.reasoning, reply.finish_reason) == ("x", "why", "length")


@pytest.mark.parametrize(
    "body",
    [[], {}, {"choices": []}, {"choices": [{}]}, {"choices": [{"message": {"content": None}}]}, {"error": "quota"}],
)
def test_parse_reply_names_missing_fields(body: object) -> None:
    with pytest.raises(ChatRequestError) as raised:
        parse_reply(body)
    assert raised.value.reason == "missing_field"


def test_user_message_puts_images_before_text() -> None:
    message = user_message("hi", ["data:image/png;base64,AAAA"])
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]
    assert user_message("hi", []) == {"role": "user", "content": "hi"}


def test_empty_reply_is_a_retryable_failure() -> None:
    with pytest.raises(ChatRequestError) as raised:
        parse_reply({"choices": [{"message": {"content": " ", "reasoning_content": ""}, "finish_reason": "stop"}]})
    assert raised.value.reason == "empty_reply"
    assert raised.value.reason in RETRYABLE_REASONS


def test_faulty_endpoint_retries_counts_reasons_and_loses_nothing(
    tmp_path: Path,
    chat_server: Any,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    chat_server.slow_s = 0.6
    questions = [
        "ok",
        "[flaky]",
        "[429]",
        "[500]",
        "[slow]",
        "[badjson]",
        "[nofield]",
        "[400]",
        "[flaky] [wrong]",
        "[408]",
        "[empty]",
    ]
    vqa = make_vqa(questions)
    out = tmp_path / "out"
    config = make_config(vqa, chat_server.url, timeout_s=0.3)
    summary = asyncio.run(run_pipeline(ColdstartConfig.model_validate(config)))

    kept = {record["id"] for record in jsonl(out / "coldstart.jsonl")}
    dropped = {record["id"]: f"{record['stage']}:{record['reason']}" for record in jsonl(out / "dropped.jsonl")}
    assert kept == {"r0", "r1", "r2", "r9", "r10"}
    assert dropped == {
        "r3": "pseudo_cot:server_error",
        "r4": "pseudo_cot:timeout",
        "r5": "pseudo_cot:malformed_json",
        "r6": "pseudo_cot:missing_field",
        "r7": "pseudo_cot:client_error",
        "r8": "filter:wrong_answer",
    }
    mllm = summary["requests"]["mllm"]
    assert mllm["failed_requests"] == {
        "server_error": 1,
        "timeout": 1,
        "malformed_json": 1,
        "missing_field": 1,
        "client_error": 1,
    }
    assert mllm["failed_attempts"] == {
        "server_error": 3 + 2 + 2,
        "rate_limited": 2,
        "timeout": 3 + 2,
        "malformed_json": 3,
        "missing_field": 3,
        "client_error": 1,
        "empty_reply": 2,
    }
    assert summary["requests"]["reasoner"]["failed_attempts"] == {
        "server_error": 2,
        "rate_limited": 1,
        "timeout": 1,
        "empty_reply": 1,
    }
    assert summary["this_run"]["stages"]["pseudo_cot"] == {"started": 11, "succeeded": 6, "failed": 5}
    asked = chat_server.questions_asked()
    assert asked.count("q7 [400]") == 1
    assert asked.count("q3 [500]") == 3

    chat_server.healed = True
    asked_before = len(asked)
    resumed = asyncio.run(run_pipeline(ColdstartConfig.model_validate(config)))
    kept = {record["id"] for record in jsonl(out / "coldstart.jsonl")}
    assert kept == {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r9", "r10"}
    assert resumed["retried_drops"] == 4
    assert resumed["totals"] == {
        "finished": 11,
        "kept": 9,
        "dropped": 2,
        "drop_reasons": {"filter:wrong_answer": 1, "pseudo_cot:client_error": 1},
    }
    asked_again = chat_server.questions_asked()[asked_before:]
    assert "q7 [400]" not in asked_again and "q8 [flaky] [wrong]" not in asked_again
    assert {"q3 [500]", "q4 [slow]", "q5 [badjson]", "q6 [nofield]"} <= set(asked_again)


def test_api_key_is_sent_but_never_logged_or_written(
    tmp_path: Path,
    chat_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
) -> None:
    secret = "sk-test-5f2c9e81d4a7b360"
    monkeypatch.setenv("COLDSTART_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)
    vqa = make_vqa(["ok", "[flaky]", "[500]", "[wrong]", "[echo400]"])
    out = tmp_path / "out"
    config = make_config(vqa, chat_server.url, api_key_env="COLDSTART_TEST_KEY")
    asyncio.run(run_pipeline(ColdstartConfig.model_validate({**config, "progress": True})))

    assert {request["auth"] for request in chat_server.requests} == {f"Bearer {secret}"}
    assert any("retrying" in record.getMessage() for record in caplog.records)
    assert "[api key]" in (out / "dropped.jsonl").read_text(encoding="utf-8")
    captured = capsys.readouterr()
    assert secret not in caplog.text + captured.out + captured.err
    for path in out.iterdir():
        assert secret not in path.read_text(encoding="utf-8")


def test_missing_api_key_variable_is_named_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLDSTART_ABSENT_KEY", raising=False)
    endpoint = EndpointConfig(model="m", api_key_env="COLDSTART_ABSENT_KEY")
    with pytest.raises(ValueError, match="COLDSTART_ABSENT_KEY"):
        ChatClient("mllm", endpoint)


def test_oversized_response_is_refused(chat_server: Any) -> None:
    endpoint = EndpointConfig(model="m", base_url=chat_server.url, max_response_bytes=64, max_attempts=1)

    async def ask() -> None:
        async with ChatClient("mllm", endpoint) as client:
            await client.complete([user_message("REASON|q|card 5", [])])

    with pytest.raises(ChatRequestError) as raised:
        asyncio.run(ask())
    assert raised.value.reason == "too_large"


def test_unreachable_endpoint_drops_every_record_with_connection_error(
    tmp_path: Path,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    vqa = make_vqa(["one", "two"])
    out = tmp_path / "out"
    config = make_config(vqa, f"http://127.0.0.1:{closed_port}/v1")
    summary = asyncio.run(run_pipeline(ColdstartConfig.model_validate(config)))
    assert {record["reason"] for record in jsonl(out / "dropped.jsonl")} == {"connection_error"}
    assert summary["requests"]["mllm"]["failed_attempts"] == {"connection_error": 6}
    assert summary["totals"]["dropped"] == 2


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        EndpointConfig(model="m", base_url="localhost:8000/v1")
