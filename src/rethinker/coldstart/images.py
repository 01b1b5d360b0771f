"""Images as `data:` URLs for chat messages: sent as stored, or shrunk to a pixel budget when larger."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from rethinker.data.errors import DataError
from rethinker.data.images import MAX_FILE_BYTES, load_image


def image_data_url(path: Path, max_pixels: int | None = None) -> str:
    """A `data:` URL of the image file; over `max_pixels` it is decoded, shrunk (aspect kept) and sent as PNG.

    Raises `DataError` for a file that is not a readable image or is absurdly large.
    """
    try:
        with Image.open(path) as image:
            mime, width, height = Image.MIME.get(image.format or "", "image/png"), image.width, image.height
    except (OSError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
    if max_pixels is not None and width * height > max_pixels:
        buffer = io.BytesIO()
        load_image(path, max_pixels=max_pixels, where=str(path)).save(buffer, format="PNG")
        mime, encoded = "image/png", buffer.getvalue()
    elif path.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{path}: encoded image is over the {MAX_FILE_BYTES} byte limit")
    else:
        encoded = path.read_bytes()
    return f"data:{mime};base64,{base64.b64encode(encoded).decode('ascii')}"
