"""A bounded, retrying client for OpenAI-compatible chat endpoints, shared by cold start and the eval judge."""
