"""Images as data URLs: stored bytes when small enough, a shrunk PNG when over the pixel budget."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from rethinker.coldstart.images import image_data_url
from rethinker.data.errors import DataError


def decode(url: str) -> tuple[str, bytes]:
    header, payload = url.split(",", 1)
    return header, base64.b64decode(payload)


def test_small_image_is_sent_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path, format="JPEG")
    header, payload = decode(image_data_url(path, max_pixels=10_000))
    assert header == "data:image/jpeg;base64"
    assert payload == path.read_bytes()


def test_large_image_is_shrunk_to_the_budget_keeping_its_aspect(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (400, 200)).save(path)
    header, payload = decode(image_data_url(path, max_pixels=5_000))
    with Image.open(io.BytesIO(payload)) as shrunk:
        assert header == "data:image/png;base64"
        assert shrunk.width * shrunk.height <= 5_000
        assert abs(shrunk.width / shrunk.height - 2.0) < 0.1


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="broken.png"):
        image_data_url(path)
