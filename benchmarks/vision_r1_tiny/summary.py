"""Held-out accuracy and format rate along the tiny Vision-R1 pipeline, read from the runs' metrics.jsonl files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rethinker.jsonl import read_jsonl


def evaluations(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl that hold a held-out evaluation, in step order."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    return [row for row in rows if "eval/acc" in row]


def point(row: dict[str, Any]) -> dict[str, float]:
    """Step, accuracy, format rate and HFRRF reward of one evaluation."""
    keys = {"step": "step", "acc": "eval/acc", "format_rate": "eval/format_rate", "hfrrf": "eval/reward"}
    return {name: row[key] for name, key in keys.items()}


def summarize(out: Path) -> dict[str, Any]:
    """The pipeline's points: base model, Vision-R1-Zero's end, after cold-start SFT, after PTST; and the records."""
    zero, rl = evaluations(out / "zero"), evaluations(out / "rl")
    coldstart = json.loads((out / "cold" / "stats.json").read_text())["totals"]
    return {
        "coldstart": {"kept": coldstart["kept"], "dropped": coldstart["dropped"]},
        "base": point(zero[0]),
        "zero_end": point(zero[-1]),
        "after_sft": point(rl[0]),
        "after_ptst": point(rl[-1]),
        "ptst_curve": [point(row) for row in rl],
    }


def main() -> int:
    """`python summary.py OUT_DIR`: print the summary and write OUT_DIR/summary.json."""
    out = Path(sys.argv[1])
    summary = summarize(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name in ("base", "zero_end", "after_sft", "after_ptst"):
        acc, rate, step = (summary[name][key] for key in ("acc", "format_rate", "step"))
        print(f"{name:>10}: accuracy {acc:.3f}, format rate {rate:.3f} (step {step})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
