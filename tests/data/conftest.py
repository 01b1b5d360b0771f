"""Small image fixtures shared by the data tests."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image


def encode_png(width: int = 8, height: int = 6, color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    """PNG bytes of a plain image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def png() -> Callable[..., bytes]:
    """A factory for PNG bytes of a plain image."""
    return encode_png
