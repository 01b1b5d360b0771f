"""OpenAI-compatible API server and local web demo."""
