"""Request validation: OpenAI fields become a processor prompt and sampling settings; bad fields are 400s."""

from __future__ import annotations

from typing import Any

import pytest

from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import ApiError
from rethinker.serve.openai_api import parse_chat_request

CONFIG = ServeConfig(max_new_tokens=64, max_n=4, max_images=2, max_text_chars=100)


def _refusal(body: Any) -> str:
    with pytest.raises(ApiError) as caught:
        parse_chat_request(body, CONFIG)
    assert caught.value.status == 400
    return caught.value.message


def test_defaults_and_string_content() -> None:
    request = parse_chat_request({"messages": [{"role": "user", "content": "hello"}]}, CONFIG)
    assert request.prompt.messages == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert request.prompt.images == []
    params = request.params
    assert (params.max_new_tokens, params.temperature, params.top_p, params.top_k, params.n) == (64, 1.0, 1.0, 0, 1)
    assert not request.stream and not request.ignore_eos and request.seed is None


def test_settings_are_read_and_max_tokens_is_capped(png, to_data_url) -> None:
    url = to_data_url(png())
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "?"}],
            },
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "image_url", "image_url": url}]},
        ],
        "temperature": 0,
        "top_p": 0.5,
        "max_tokens": 10_000,
        "n": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
        "seed": 7,
        "user": "ignored",
    }
    request = parse_chat_request(body, CONFIG)
    assert [m["role"] for m in request.prompt.messages] == ["system", "user", "assistant", "user"]
    assert request.prompt.messages[1]["content"] == [{"type": "image"}, {"type": "text", "text": "?"}]
    assert len(request.prompt.images) == 2
    assert (request.params.max_new_tokens, request.params.temperature, request.params.n) == (64, 0.0, 3)
    assert request.stream and request.include_usage and request.seed == 7
    assert (
        parse_chat_request({**body, "max_completion_tokens": 5, "max_tokens": None}, CONFIG).params.max_new_tokens == 5
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "JSON object"),
        ({}, "non-empty list"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "role"),
        ({"messages": [{"role": "system", "content": "hi"}]}, "at least one user message"),
        ({"messages": [{"role": "user", "content": []}]}, "non-empty list of parts"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "'text' or 'image_url'"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]}, "string 'text'"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "image_url.url"),
        ({"messages": [{"role": "user", "content": "x" * 101}]}, "over the 100 limit"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "'temperature' must be within"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": True}, "'temperature' must be a number"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": float("nan")}, "must be a number"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_p": 0}, "'top_p' must be within"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 5}, "'n' must be within"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 1.5}, "'n' must be an integer"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "'max_tokens' must be within"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "'stream' must be true or false"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream_options": 1}, "'stream_options'"),
    ],
)
def test_bad_fields_are_refused(body: Any, reason: str) -> None:
    assert reason in _refusal(body)


def test_too_many_images_are_refused_before_decoding() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,never-decoded"}}
    assert "at most 2" in _refusal({"messages": [{"role": "user", "content": [part, part, part]}]})
