"""Rollout engines (HF generate, vLLM) and forced rethinking."""
