"""Images from request URLs (`data:` base64 or `file://` under allowed roots), bounded before any pixel is decoded."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from urllib.parse import unquote, urlparse

from PIL import Image

from rethinker.data.errors import DataError
from rethinker.data.images import load_image
from rethinker.serve.config import ServeConfig
from rethinker.serve.errors import bad_request


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


def _check_header(data: bytes, max_pixels: int) -> None:
    """Refuse bytes that are no image, or whose header announces more pixels than allowed, without decoding."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise bad_request(f"image is too large: {error}") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise bad_request("the image content is not an image Pillow can read") from error
    if width * height > max_pixels:
        raise bad_request(f"image is too large: {width}x{height} is over the {max_pixels} pixel limit")


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


def decode_image_url(url: str, config: ServeConfig) -> Image.Image:
    """An RGB image from a request URL, resized into the server's pixel bounds; ApiError 400 when refused."""
    data = image_bytes(url, config)
    _check_header(data, config.max_image_pixels)
    try:
        return load_image(data, min_pixels=config.min_pixels, max_pixels=config.max_pixels, where="image_url")
    except DataError as error:
        raise bad_request(str(error)) from error
