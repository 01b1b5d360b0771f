"""Decode images lazily and safely: refuse absurd inputs before decoding, return RGB within pixel bounds."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from rethinker.data.errors import DataError
from rethinker.data.schema import Example, ImageSource

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest encoded image accepted, checked before anything is read."""

MAX_SOURCE_PIXELS = 64_000_000
"""Largest width*height accepted, read from the image header before the pixels are decoded."""

MAX_ASPECT_RATIO = 200.0
"""Longest side over shortest side beyond which an image is refused (the Qwen2-VL processors refuse the same)."""


def fit_pixels(width: int, height: int, min_pixels: int | None, max_pixels: int | None) -> tuple[int, int]:
    """The size, aspect kept, whose area lies within [min_pixels, max_pixels]; the maximum wins if both cannot hold."""
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise DataError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels}); lower min_pixels")
    new_width, new_height = width, height
    if min_pixels is not None and width * height < min_pixels:
        scale = math.sqrt(min_pixels / (width * height))
        new_width, new_height = math.ceil(width * scale), math.ceil(height * scale)
    if max_pixels is not None and new_width * new_height > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
        new_width, new_height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        if new_width * new_height > max_pixels:
            new_width = max(1, max_pixels // new_height)
    return new_width, new_height


def _refuse_absurd_size(width: int, height: int, where: str) -> None:
    """Raise before decoding when the header announces an empty, huge or needle-thin image."""
    if width < 1 or height < 1:
        raise DataError(f"{where}: image has an empty size {width}x{height}")
    if width * height > MAX_SOURCE_PIXELS:
        raise DataError(f"{where}: image is {width}x{height}, over the {MAX_SOURCE_PIXELS} pixel limit")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise DataError(f"{where}: image is {width}x{height}, aspect ratio over {MAX_ASPECT_RATIO:g}")


def _open_encoded(src: Path | bytes, where: str) -> Image.Image:
    """Open an encoded image, check its header, then decode its pixels."""
    if isinstance(src, Path):
        if not src.is_file():
            raise DataError(f"{where}: image file not found: {src}")
        size = src.stat().st_size
    else:
        size = len(src)
    if size > MAX_FILE_BYTES:
        raise DataError(f"{where}: encoded image is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(src if isinstance(src, Path) else io.BytesIO(src))
            _refuse_absurd_size(image.width, image.height, where)
            image.load()
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise DataError(f"{where}: cannot decode image: {error}") from error
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB pixels, transparent areas composited onto white and EXIF orientation applied."""
    image = ImageOps.exif_transpose(image)
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(
    src: ImageSource | str,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    where: str | None = None,
) -> Image.Image:
    """Decode `src` to an RGB image whose area lies within the pixel bounds; `where` names it in any error."""
    place = where or (str(src) if isinstance(src, str | Path) else "image")
    if isinstance(src, Image.Image):
        _refuse_absurd_size(src.width, src.height, place)
        image = src
    elif isinstance(src, str | Path):
        image = _open_encoded(Path(src), place)
    elif isinstance(src, bytes | bytearray):
        image = _open_encoded(bytes(src), place)
    else:
        raise DataError(f"{place}: unsupported image source of type {type(src).__name__}")
    rgb = _to_rgb(image)
    size = fit_pixels(rgb.width, rgb.height, min_pixels, max_pixels)
    if size == rgb.size:
        return rgb.copy() if rgb is src else rgb
    shrinking = size[0] * size[1] < rgb.width * rgb.height
    return rgb.resize(size, Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC)


def load_example_images(
    example: Example, *, min_pixels: int | None = None, max_pixels: int | None = None
) -> list[Image.Image]:
    """Decode every image of an example, naming its origin (file and row, when a loader recorded one) in errors."""
    origin = example.metadata.get("origin", f"example {example.id}")
    return [
        load_image(src, min_pixels=min_pixels, max_pixels=max_pixels, where=f"{origin} field 'images[{index}]'")
        for index, src in enumerate(example.images)
    ]
