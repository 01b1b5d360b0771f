"""A `vllm` module for subprocess tests on CPU: the stand-in the rollout engine tests use (tests/rollout)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[3] / "rollout" / "test_vllm_engine.py"
_spec = importlib.util.spec_from_file_location("_rollout_vllm_stand_in", _SOURCE)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)

LLM = _module.FakeLLM
SamplingParams = _module.FakeSamplingParams
