"""OpenAI chat-completions shapes: validate a request into a prompt and sampling settings, and build the replies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from rethinker.models.prompts import TEMPLATES
from rethinker.rollout.base import SamplingParams
from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import bad_request
from rethinker.serve.generation import Completion
from rethinker.serve.image_urls import PixelBudget, decode_images

ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 64


@dataclass(frozen=True)
class ChatPrompt:
    """Chat messages in the processor's form (`{"type": "image"}` parts) and their decoded images, in order."""

    messages: list[dict[str, Any]]
    images: list[Image.Image]


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat-completions request."""

    prompt: ChatPrompt
    params: SamplingParams
    stream: bool
    include_usage: bool
    ignore_eos: bool
    seed: int | None
    template: str | None = None


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    """A finite number within [low, high] (booleans refused), or the default when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(f"'{key}' must be a number, got {value!r}")
    if not low <= value <= high:
        raise bad_request(f"'{key}' must be within [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _integer(body: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    """An integer within [low, high] (booleans refused), or the default when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{key}' must be an integer, got {value!r}")
    if not low <= value <= high:
        raise bad_request(f"'{key}' must be within [{low}, {high}], got {value!r}")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    """A boolean setting, false when absent."""
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be true or false, got {value!r}")
    return value


def _image_url(part: dict[str, Any]) -> str:
    """The URL of an `image_url` content part (an object with `url`, or a bare string)."""
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise bad_request("an image_url part needs image_url.url (a data: or file:// URL)")
    return url


def _content_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's content as a list of OpenAI parts (a string becomes one text part)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        raise bad_request(f"{where}.content must be a string or a non-empty list of parts")
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
            raise bad_request(f"{where}.content parts must be objects of type 'text' or 'image_url'")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise bad_request(f"{where}: a text part needs a string 'text'")
    return content


def parse_messages(raw: Any, config: ServeConfig, budget: PixelBudget | None = None) -> ChatPrompt:
    """Validate OpenAI `messages`, decode their images within the server's bounds, convert them for the processor."""
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list")
    if len(raw) > MAX_MESSAGES:
        raise bad_request(f"too many messages: {len(raw)}, at most {MAX_MESSAGES}")
    messages: list[dict[str, Any]] = []
    urls: list[str] = []
    text_chars = 0
    for position, message in enumerate(raw):
        where = f"messages[{position}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad_request(f"{where} must be an object with a role among {ROLES}")
        content: list[dict[str, Any]] = []
        for part in _content_parts(message.get("content"), where):
            if part["type"] == "text":
                text_chars += len(part["text"])
                content.append({"type": "text", "text": part["text"]})
            else:
                urls.append(_image_url(part))
                content.append({"type": "image"})
        messages.append({"role": message["role"], "content": content})
    if not any(message["role"] == "user" for message in messages):
        raise bad_request("'messages' must hold at least one user message")
    if text_chars > config.max_text_chars:
        raise bad_request(f"messages hold {text_chars} characters of text, over the {config.max_text_chars} limit")
    if len(urls) > config.max_images:
        raise bad_request(f"{len(urls)} images given, at most {config.max_images} per request")
    return ChatPrompt(messages, decode_images(urls, config, budget))


def _template(body: dict[str, Any]) -> str | None:
    """The request's instruction template name, or None for the server's default."""
    value = body.get("template")
    if value is None:
        return None
    if value not in TEMPLATES:
        raise bad_request(f"'template' must be one of {sorted(TEMPLATES)}, got {value!r}")
    return value


def parse_chat_request(body: Any, config: ServeConfig, budget: PixelBudget | None = None) -> ChatRequest:
    """Validate a chat-completions body, then decode its images; `max_tokens` above the server's limit is lowered."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    max_tokens = _integer(body, "max_completion_tokens", None, 1, 2**31)
    max_tokens = _integer(body, "max_tokens", max_tokens, 1, 2**31)
    params = SamplingParams(
        max_new_tokens=min(max_tokens or config.max_new_tokens, config.max_new_tokens),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 1e-6, 1.0),
        top_k=_integer(body, "top_k", 0, 0, 1_000_000) or 0,
        n=_integer(body, "n", 1, 1, config.max_n) or 1,
    )
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object")
    stream, include_usage, ignore_eos = (
        _flag(body, "stream"),
        _flag(options, "include_usage"),
        _flag(body, "ignore_eos"),
    )
    seed, template = _integer(body, "seed", None, 0, 2**63 - 1), _template(body)
    return ChatRequest(
        prompt=parse_messages(body.get("messages"), config, budget),
        params=params,
        stream=stream,
        include_usage=include_usage,
        ignore_eos=ignore_eos,
        seed=seed,
        template=template,
    )


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The `usage` object: prompt tokens (image tokens included, counted once) and generated tokens of all choices."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    completion_id: str, model: str, created: int, completions: list[Completion], prompt_tokens: int
) -> dict[str, Any]:
    """A `chat.completion` object with one choice per completion."""
    choices = [
        {
            "index": index,
            "message": {"role": "assistant", "content": completion.text},
            "finish_reason": completion.finish_reason,
            "logprobs": None,
        }
        for index, completion in enumerate(completions)
    ]
    completion_tokens = sum(completion.token_count for completion in completions)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage(prompt_tokens, completion_tokens),
    }


def chunk_body(
    completion_id: str, model: str, created: int, choices: list[dict[str, Any]], usage_: dict[str, int] | None = None
) -> dict[str, Any]:
    """A `chat.completion.chunk` object; the final usage-only chunk has no choices."""
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage_ is not None:
        chunk["usage"] = usage_
    return chunk


def chunk_choice(index: int, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
    """One choice of a stream chunk."""
    return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def models_body(model_id: str, created: int) -> dict[str, Any]:
    """The `/v1/models` list, holding the one model this server runs."""
    return {
        "object": "list",
        "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "rethinker"}],
    }
