"""Forced rethinking requests: the continuation prefix, its validation, and the before/after verdict."""

from __future__ import annotations

import pytest

from rethinker.rollout.triggers import BARE_WAIT, SELF_CORRECTION
from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import ApiError
from rethinker.serve.rethink import parse_rethink_request, rethink_verdict

MESSAGES = [{"role": "user", "content": "What is 1 + 2?"}]


def test_prefix_keeps_or_cuts_the_first_answer() -> None:
    first = "One plus two is 3. So the answer is \\boxed{3}"
    kept = parse_rethink_request({"messages": MESSAGES, "response": first}, ServeConfig())
    assert kept.prefix == first + BARE_WAIT and kept.trigger == BARE_WAIT
    cut = parse_rethink_request(
        {"messages": MESSAGES, "response": first, "trigger": SELF_CORRECTION, "cut": True}, ServeConfig()
    )
    assert cut.prefix == "One plus two is 3." + SELF_CORRECTION


def test_refuses_missing_response_and_odd_triggers() -> None:
    for extra in ({}, {"response": 5}, {"response": "x", "trigger": ""}, {"response": "x", "trigger": ["Wait"]}):
        with pytest.raises(ApiError) as caught:
            parse_rethink_request({"messages": MESSAGES, **extra}, ServeConfig())
        assert caught.value.status == 400


def test_verdict_compares_final_answers() -> None:
    first = "\\boxed{3}"
    assert rethink_verdict(first, first + "\n\nWait, let me count the dots again: there are four. \\boxed{4}") == {
        "first_answer": "3",
        "final_answer": "4",
        "answer_changed": True,
    }
    assert rethink_verdict(first, first + "\n\nWait, yes.")["answer_changed"] is False
    assert rethink_verdict("no answer here", "still none")["answer_changed"] is False
