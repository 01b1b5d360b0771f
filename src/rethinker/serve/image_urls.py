"""Images from request URLs (`data:` base64 or `file://` under allowed roots), bounded before any pixel is decoded.

Every image's size is read from its header first; a request whose images hold too many pixels in all is refused (413)
before any is decoded. Images are then decoded one at a time, each shrunk to the model's `max_pixels` at once (JPEGs
decode at a reduced scale), while a server-wide `PixelBudget` bounds the full-size pixels being decoded at any moment.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from PIL import Image

from rethinker.data.errors import DataError
from rethinker.data.images import fit_pixels, load_image
from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import ApiError, bad_request, too_large

DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning)


def _data_url_bytes(url: str, max_bytes: int) -> bytes:
    """The payload of a base64 `data:` URL, refusing other media types and oversized payloads before decoding."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma or not header.endswith(";base64"):
        raise bad_request("image data URL must look like data:image/png;base64,<data>")
    media_type = header.removesuffix(";base64").strip().lower()
    if media_type and not media_type.startswith("image/"):
        raise bad_request(f"data URL has media type {media_type!r}, which is not an image")
    payload = "".join(payload.split())
    if len(payload) // 4 * 3 > max_bytes:
        raise bad_request(f"image is too large: over the {max_bytes} byte limit")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise bad_request(f"image data URL is not valid base64: {error}") from error


def _within(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether a resolved path lies inside one of the (resolved) allowed roots."""
    return any(path.is_relative_to(root.resolve()) for root in roots)


def _file_url_bytes(url: str, roots: tuple[Path, ...], max_bytes: int) -> bytes:
    """The bytes of a `file://` URL's file, only inside the allowed roots (symbolic links resolved first)."""
    if not roots:
        raise bad_request("file URLs are disabled on this server; start it with --allow-files DIR")
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise bad_request(f"file URL must name a local file, not host {parsed.netloc!r}")
    path = Path(unquote(parsed.path)).resolve()
    if not _within(path, roots):
        raise bad_request(f"file URL {url!r} is outside the allowed roots")
    if not path.is_file():
        raise bad_request(f"image file not found: {url!r}")
    if path.stat().st_size > max_bytes:
        raise bad_request(f"image is too large: over the {max_bytes} byte limit")
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def header_pixels(data: bytes, max_pixels: int) -> int:
    """The pixel count an image's header announces, read without decoding; 400 for non-images or over `max_pixels`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise bad_request(f"image is too large: {error}") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise bad_request("the image content is not an image Pillow can read") from error
    if width * height > max_pixels:
        raise bad_request(f"image is too large: {width}x{height} is over the {max_pixels} pixel limit")
    return width * height


class PixelBudget:
    """Full-size pixels being decoded at once across the server; a decode waits (bounded) for room, else 503."""

    def __init__(self, total: int, wait_s: float = 30.0) -> None:
        self.total = total
        self.wait_s = wait_s
        self.in_use = 0
        self.peak = 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Reserve `pixels` (at most `total`) for the duration of one decode."""
        with self._room:
            if not self._room.wait_for(lambda: self.in_use + pixels <= self.total, timeout=self.wait_s):
                raise ApiError(503, "server busy: too many images are being decoded, retry later", "server_busy")
            self.in_use += pixels
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._room:
                self.in_use -= pixels
                self._room.notify_all()


def image_bytes(url: str, config: ServeConfig) -> bytes:
    """The encoded image a URL points to, within the byte limit; a 400 error for every other URL."""
    if not isinstance(url, str) or not url:
        raise bad_request("image_url.url must be a non-empty string")
    scheme = url.split(":", 1)[0].lower()
    if scheme == "data":
        data = _data_url_bytes(url, config.max_image_bytes)
    elif scheme == "file":
        data = _file_url_bytes(url, config.file_roots, config.max_image_bytes)
    else:
        raise bad_request(f"unsupported image URL scheme {scheme!r}: use data: (base64) or file:// URLs")
    if len(data) > config.max_image_bytes:
        raise bad_request(f"image is too large: {len(data)} bytes, over the {config.max_image_bytes} byte limit")
    return data


def _decode(data: bytes, config: ServeConfig) -> Image.Image:
    """Decode one encoded image straight to the server's pixel bounds (JPEGs at a reduced scale); 400 when refused."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if config.max_pixels is not None:
                image.draft("RGB", fit_pixels(image.width, image.height, None, config.max_pixels))
            image.load()
            return load_image(image, min_pixels=config.min_pixels, max_pixels=config.max_pixels, where="image_url")
    except DataError as error:
        raise bad_request(str(error)) from error
    except DECODE_ERRORS as error:
        raise bad_request(f"image_url: cannot decode image: {error}") from error


def decode_images(urls: list[str], config: ServeConfig, budget: PixelBudget | None = None) -> list[Image.Image]:
    """RGB images from request URLs: sizes checked from headers first (413 over the per-request total), then each
    decoded in turn within the server-wide `budget` (none: unbounded, for a single caller)."""
    encoded = [image_bytes(url, config) for url in urls]
    pixels = [header_pixels(data, config.max_image_pixels) for data in encoded]
    if sum(pixels) > config.max_request_pixels:
        raise too_large(
            f"the request's images hold {sum(pixels)} pixels in all, over the {config.max_request_pixels} pixel "
            "limit per request: send fewer or smaller images"
        )
    images = []
    for data, count in zip(encoded, pixels, strict=True):
        if budget is None:
            images.append(_decode(data, config))
            continue
        with budget.hold(count):
            images.append(_decode(data, config))
    return images


def decode_image_url(url: str, config: ServeConfig) -> Image.Image:
    """An RGB image from a request URL, resized into the server's pixel bounds; ApiError 400 when refused."""
    return decode_images([url], config)[0]
