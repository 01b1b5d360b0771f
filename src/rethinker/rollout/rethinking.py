"""Where eval/ finds the test-time rethinking summary; the pure rethinking code lives in `algo/rethinking.py`."""

from rethinker.algo.rethinking import test_time_rethink_summary

__all__ = ["test_time_rethink_summary"]
