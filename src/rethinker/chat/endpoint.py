"""One model behind an OpenAI-compatible endpoint: where it is, how to sample it, and how hard to retry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EndpointConfig(BaseModel):
    """One model behind an OpenAI-compatible `/v1/chat/completions` endpoint, with its sampling and retry policy."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(4096, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Extra request fields, e.g. top_k for vLLM.")
    max_concurrency: int = Field(8, gt=0, description="Requests in flight to this endpoint at most.")
    timeout_s: float = Field(600.0, gt=0.0, description="Wall-clock limit of one request, body included.")
    max_attempts: int = Field(5, ge=1)
    backoff_base_s: float = Field(1.0, ge=0.0)
    backoff_max_s: float = Field(60.0, ge=0.0)
    max_response_bytes: int = Field(16 * 1024 * 1024, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value
