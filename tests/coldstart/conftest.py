"""Fixtures of the cold-start tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from coldstart_helpers import ScriptedChatServer


@pytest.fixture
def chat_server() -> Iterator[ScriptedChatServer]:
    """A running scripted server, shut down after the test."""
    server = ScriptedChatServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
