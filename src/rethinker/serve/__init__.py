"""OpenAI-compatible API server and local web demo: `rethinker serve --model PATH|tiny`.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (OpenAI shapes, SSE streaming), `POST /api/rethink` (continue a
response after a rethinking trigger), `GET /api/examples`, `GET /api/settings`, `GET /health`, and the demo page at `/`.
Starlette routes on uvicorn (`routes.py`, `app.py`); one generation thread (`generation.py`); images bounded before they
are decoded (`image_urls.py`); the training run's instruction template (`templates.py`). See docs/serve.md.
"""
