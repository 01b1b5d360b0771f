"""The decode-step benchmark runs as typed and writes every figure RESULTS.md quotes (timings are not asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "decode_step" / "run.py"


@pytest.mark.slow
def test_run_writes_noise_rows_and_the_decode_ab(tmp_path: Path) -> None:
    out = tmp_path / "decode.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeats", "1", "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    written = json.loads(out.read_text())
    assert [(row["rows"], row["vocab"]) for row in written["noise"]] == [(16, 307), (16, 151_936), (128, 151_936)]
    figures = [row[key] for row in written["noise"] for key in ("former_us", "current_us", "sample_next_us")]
    figures += [written["decode"][key] for key in ("former_ms", "current_ms", "ratio")]
    figures += [written["threads"][key] for key in ("1_threads_ms", "2_threads_ms")]
    assert all(math.isfinite(value) and value > 0 for value in figures)
    assert "tiny decode, 16 rows" in result.stdout and "compile" not in written
