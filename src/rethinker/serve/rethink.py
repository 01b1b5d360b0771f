"""Forced rethinking on demand: continue a finished response after a trigger, and tell whether its answer changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rethinker.rewards.extract import extract_answer
from rethinker.rollout.triggers import BARE_WAIT, build_rethink_prefix
from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import bad_request
from rethinker.serve.image_urls import PixelBudget
from rethinker.serve.openai_api import ChatRequest, parse_chat_request

MAX_TRIGGER_CHARS = 200


@dataclass(frozen=True)
class RethinkRequest:
    """A chat request plus the first response and the trigger; `prefix` is what the continuation starts from."""

    chat: ChatRequest
    response: str
    trigger: str
    prefix: str


def parse_rethink_request(body: Any, config: ServeConfig, budget: PixelBudget | None = None) -> RethinkRequest:
    """Validate `/api/rethink`: `response` (the first answer), `trigger` and `cut`, then the chat fields and images."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    response, trigger, cut = body.get("response"), body.get("trigger", BARE_WAIT), body.get("cut", False)
    if not isinstance(response, str) or not response.strip():
        raise bad_request("'response' must be the non-empty first response to rethink")
    if len(response) > config.max_text_chars:
        raise bad_request(f"'response' is over the {config.max_text_chars} character limit")
    if not isinstance(trigger, str) or not trigger.strip() or len(trigger) > MAX_TRIGGER_CHARS:
        raise bad_request(f"'trigger' must be a non-blank string of at most {MAX_TRIGGER_CHARS} characters")
    if not isinstance(cut, bool):
        raise bad_request("'cut' must be true or false")
    chat = parse_chat_request(body, config, budget)
    return RethinkRequest(chat, response, trigger, build_rethink_prefix(response, trigger, cut))


def rethink_verdict(first_response: str, rethought_response: str) -> dict[str, Any]:
    """The final answers before and after rethinking (None when none is found) and whether it changed."""
    first, final = extract_answer(first_response), extract_answer(rethought_response)
    return {
        "first_answer": first.answer,
        "final_answer": final.answer,
        "answer_changed": first.answer != final.answer,
    }
