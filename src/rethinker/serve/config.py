"""What a server loads and the limits it holds every request to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServeConfig:
    """Model, address and the bounds on every request; `file_roots` are the only folders `file://` URLs may read."""

    model: str = "tiny"
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "auto"
    dtype: str = "float32"
    max_queue: int = 4
    max_new_tokens: int = 512
    max_prompt_tokens: int = 8192
    max_n: int = 8
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_image_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 16_000_000
    max_images: int = 8
    max_body_bytes: int = 48 * 1024 * 1024
    max_text_chars: int = 32_000
    file_roots: tuple[Path, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("max_queue", "max_new_tokens", "max_prompt_tokens", "max_n", "max_image_bytes", "max_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, got {self.port}")
