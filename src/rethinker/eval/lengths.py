"""Token budgets of an evaluation: how long responses may be by default, and how long a prompt may then be.

A response budget that leaves no room for a prompt in the model's context is a user error naming the flag to change.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig

from rethinker.errors import UserError

DEFAULT_RESPONSE_TOKENS = 2048
"""The response length asked for when neither a flag nor the training run sets one (when the context allows it)."""
RESPONSE_SHARE = 2
"""By default responses take at most 1/RESPONSE_SHARE of the context, so the rest is left to prompts (images too)."""
TRIGGER_ALLOWANCE = 16
"""Tokens kept for the rethinking trigger when choosing the default response length (it encodes to fewer)."""


class LengthError(UserError):
    """A response or prompt length that does not fit the model's context; the message names the flag to change."""


def model_context(path: Path) -> int:
    """The context length (max position embeddings) of a checkpoint's language model, read from its config."""
    return int(AutoConfig.from_pretrained(path).get_text_config().max_position_embeddings)


def default_response_tokens(context: int, rethink: bool) -> int:
    """2048 tokens, or less when that would take more than half the context (response + rethink with `rethink`)."""
    room = context // RESPONSE_SHARE
    if rethink:
        room = (room - TRIGGER_ALLOWANCE) // 2
    return max(1, min(DEFAULT_RESPONSE_TOKENS, room))


def response_budget(max_new_tokens: int, trigger_tokens: int | None) -> int:
    """Tokens generated after the prompt: the response, and with `trigger_tokens` the trigger and a continuation."""
    return max_new_tokens if trigger_tokens is None else 2 * max_new_tokens + trigger_tokens


def default_prompt_limit(context: int, max_new_tokens: int, trigger_tokens: int | None) -> int:
    """The longest prompt whose responses (and, with `trigger_tokens`, trigger and continuation) fit the context."""
    budget = response_budget(max_new_tokens, trigger_tokens)
    if budget >= context:
        most = context // 2 if trigger_tokens is None else (context // 2 - trigger_tokens) // 2
        raise LengthError(
            f"max_new_tokens={max_new_tokens} leaves no room for a prompt in a context of {context} "
            f"(responses{' with a rethink' if trigger_tokens is not None else ''} take {budget} tokens); "
            f"lower --max-new-tokens, e.g. to {max(1, most)}"
        )
    return context - budget


def check_prompt_limit(context: int, max_prompt_tokens: int, max_new_tokens: int, trigger_tokens: int | None) -> None:
    """Refuse a prompt limit that, with the responses, exceeds the context."""
    budget = response_budget(max_new_tokens, trigger_tokens)
    if max_prompt_tokens + budget > context:
        raise LengthError(
            f"--max-prompt-tokens {max_prompt_tokens} plus {budget} response tokens (--max-new-tokens "
            f"{max_new_tokens}{', with a rethink' if trigger_tokens is not None else ''}) exceed the model's context "
            f"of {context}; lower --max-prompt-tokens or --max-new-tokens"
        )
