"""OpenAI-compatible API server and local web demo: `rethinker serve --model PATH|tiny`.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (OpenAI shapes, SSE streaming), `POST /api/rethink` (continue a
response after a rethinking trigger), `GET /api/examples`, `GET /api/settings`, `GET /health`, and the demo page at `/`.
"""
