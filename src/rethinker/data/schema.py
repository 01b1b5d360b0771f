"""The one example record every loader produces and every stage consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from PIL import Image

ImageSource: TypeAlias = Path | bytes | Image.Image
"""An image as a file path, encoded bytes (PNG/JPEG...), or an already decoded PIL image."""


@dataclass(frozen=True)
class Example:
    """A question about zero or more images, with its gold answer.

    `question` may contain `<image>` placeholders marking where each image goes; with none, images go before the text.
    `choices` holds the option texts of a multiple-choice question (gold `answer` is then usually a letter).
    `metadata` carries anything a benchmark or curation rule needs (category, pass rates, source file and row...).
    """

    id: str
    question: str
    answer: str
    images: tuple[ImageSource, ...] = ()
    choices: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
