"""Cold-start data by modality bridging over an OpenAI-compatible API."""
