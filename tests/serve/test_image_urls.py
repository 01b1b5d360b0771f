"""Image URLs: data and file URLs decode; every refused input is a 400 that says why, checked before decoding."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import ApiError
from rethinker.serve.image_urls import decode_image_url


@pytest.fixture
def config(tmp_path: Path, png) -> ServeConfig:
    (tmp_path / "ok.png").write_bytes(png((40, 30)))
    (tmp_path / "notes.txt").write_text("not an image")
    return ServeConfig(max_image_bytes=50_000, max_image_pixels=250_000, file_roots=(tmp_path,), max_pixels=900)


def _refusal(url: str, config: ServeConfig) -> str:
    with pytest.raises(ApiError) as caught:
        decode_image_url(url, config)
    assert caught.value.status == 400
    return caught.value.message


def test_data_url_decodes_within_pixel_bounds(config: ServeConfig, png, to_data_url) -> None:
    image = decode_image_url(to_data_url(png((60, 60))), config)
    assert image.mode == "RGB"
    assert image.width * image.height <= 900


def test_file_url_inside_a_root_decodes(config: ServeConfig) -> None:
    image = decode_image_url((config.file_roots[0] / "ok.png").as_uri(), config)
    assert 800 <= image.width * image.height <= 900
    assert abs(image.width / image.height - 40 / 30) < 0.1


def test_bad_data_urls_are_refused(config: ServeConfig, png, to_data_url) -> None:
    cases = {
        to_data_url(b"plain words, no pixels"): "not an image",
        to_data_url(png(), media_type="text/plain"): "not an image",
        "data:image/png;base64,@@@not-base64@@@": "not valid base64",
        "data:image/png,rawbytes": "data:image/png;base64",
        "https://example.com/cat.png": "unsupported image URL scheme",
        "": "non-empty",
    }
    for url, reason in cases.items():
        assert reason in _refusal(url, config), url


def test_too_many_bytes_are_refused_before_decoding(config: ServeConfig) -> None:
    payload = base64.b64encode(b"\0" * 60_000).decode()
    assert "too large" in _refusal(f"data:image/png;base64,{payload}", config)


def test_too_many_pixels_are_refused_from_the_header(config: ServeConfig, png, to_data_url) -> None:
    big = png((600, 600))
    assert len(big) < config.max_image_bytes
    assert "pixel limit" in _refusal(to_data_url(big), config)


def test_file_urls_outside_roots_missing_or_not_images_are_refused(config: ServeConfig) -> None:
    root = config.file_roots[0]
    assert "outside the allowed roots" in _refusal(Path("/etc/hostname").as_uri(), config)
    assert "outside the allowed roots" in _refusal(f"file://{root}/../{root.name}-elsewhere/ok.png", config)
    assert "not found" in _refusal((root / "missing.png").as_uri(), config)
    assert "not an image" in _refusal((root / "notes.txt").as_uri(), config)
    assert "disabled" in _refusal((root / "ok.png").as_uri(), ServeConfig())


def test_symlink_out_of_a_root_is_refused(config: ServeConfig, tmp_path_factory: pytest.TempPathFactory, png) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    outside.write_bytes(png())
    link = config.file_roots[0] / "link.png"
    link.symlink_to(outside)
    assert "outside the allowed roots" in _refusal(link.as_uri(), config)
