from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from rethinker.data import images
from rethinker.data.errors import DataError
from rethinker.data.images import fit_pixels, load_example_images, load_image
from rethinker.data.schema import Example


@pytest.mark.parametrize(
    ("size", "min_pixels", "max_pixels"),
    [((1000, 700), None, 50_000), ((10, 7), 3136, None), ((33, 500), 784, 20_000), ((640, 480), 4 * 28 * 28, 12_544)],
)
def test_fit_pixels_keeps_area_within_bounds_and_aspect(
    size: tuple[int, int], min_pixels: int | None, max_pixels: int | None
) -> None:
    width, height = fit_pixels(*size, min_pixels, max_pixels)
    assert min_pixels is None or width * height >= min_pixels
    assert max_pixels is None or width * height <= max_pixels
    assert abs(width / height - size[0] / size[1]) / (size[0] / size[1]) < 0.1


def test_fit_pixels_leaves_sizes_within_bounds_alone_and_rejects_inverted_bounds() -> None:
    assert fit_pixels(84, 84, 784, 10_000) == (84, 84)
    with pytest.raises(ValueError, match="min_pixels"):
        fit_pixels(10, 10, 500, 100)


def test_load_image_from_path_bytes_and_pil_returns_rgb_within_bounds(
    tmp_path: Path, png: Callable[..., bytes]
) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png(400, 200))
    for source in (path, str(path), path.read_bytes(), Image.open(io.BytesIO(path.read_bytes()))):
        image = load_image(source, min_pixels=None, max_pixels=5000)
        assert image.mode == "RGB"
        assert image.width * image.height <= 5000
        assert image.width > image.height
    small = load_image(png(10, 10), min_pixels=3136, max_pixels=None)
    assert small.width * small.height >= 3136
    assert small.getpixel((5, 5)) == (200, 10, 10)


def test_transparent_pixels_become_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).getpixel((1, 1)) == (255, 255, 255)


def test_corrupt_bytes_error_names_the_place(png: Callable[..., bytes]) -> None:
    where = "train.jsonl row 17 field 'images[1]'"
    with pytest.raises(DataError, match=r"train\.jsonl row 17 field 'images\[1\]'.*cannot decode"):
        load_image(png()[:30], where=where)
    with pytest.raises(DataError, match="row 17"):
        load_image(b"not an image at all", where=where)


def test_missing_file_error_names_the_place(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.jsonl row 3 field 'images'.*not found"):
        load_image(tmp_path / "absent.png", where="data.jsonl row 3 field 'images'")


def test_absurd_sizes_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch, png: Callable[..., bytes]) -> None:
    monkeypatch.setattr(images, "MAX_SOURCE_PIXELS", 1000)
    with pytest.raises(DataError, match="pixel limit"):
        load_image(png(100, 100), where="x")
    with pytest.raises(DataError, match="aspect ratio"):
        load_image(png(500, 2), where="x")
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 10)
    with pytest.raises(DataError, match="byte limit"):
        load_image(png(3, 3), where="x")


def test_example_images_errors_name_their_origin(png: Callable[..., bytes]) -> None:
    example = Example(id="a", question="q", answer="1", images=(png(), b"broken"), metadata={"origin": "t.jsonl row 4"})
    with pytest.raises(DataError, match=r"t\.jsonl row 4 field 'images\[1\]'"):
        load_example_images(example)
    good = Example(id="b", question="q", answer="1", images=(png(), png(20, 20)))
    assert [image.size for image in load_example_images(good, max_pixels=100)] == [(8, 6), (10, 10)]
