"""What a server loads and the limits it holds every request to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rethinker.models.prompts import resolve_template

AUTO_TEMPLATE = "auto"


@dataclass(frozen=True)
class ServeConfig:
    """Model, address and the bounds on every request; `file_roots` are the only folders `file://` URLs may read.

    Pixel bounds: one image may announce at most `max_image_pixels` (else 400), a request's images at most
    `max_request_pixels` in all (else 413), and at most `max_decoding_pixels` full-size pixels are decoded at once
    across the server (a decode waits for room). `template` is the instruction template applied to each request's
    question: `auto` reads the training run's `config.yaml` (falling back to `plain`), or a template name.
    """

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
    max_request_pixels: int = 64_000_000
    max_decoding_pixels: int = 32_000_000
    max_images: int = 8
    max_body_bytes: int = 48 * 1024 * 1024
    max_text_chars: int = 32_000
    max_connections: int = 1024
    backlog: int = 2048
    shutdown_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    template: str = AUTO_TEMPLATE
    system: str | None = None
    file_roots: tuple[Path, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        positive = ("max_queue", "max_new_tokens", "max_prompt_tokens", "max_n", "max_image_bytes", "max_images")
        for name in (*positive, "max_request_pixels", "max_connections", "backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_decoding_pixels < self.max_image_pixels:
            raise ValueError(
                f"max_decoding_pixels ({self.max_decoding_pixels}) must be at least max_image_pixels "
                f"({self.max_image_pixels}), or no allowed image could ever be decoded"
            )
        if self.template == AUTO_TEMPLATE:
            if self.system is not None:
                raise ValueError(
                    "--system goes with --template NAME; with --template auto the run's own prompt is used"
                )
        else:
            resolve_template(self.template)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, got {self.port}")
