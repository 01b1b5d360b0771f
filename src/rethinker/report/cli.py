"""`rethinker report`: figures and a summary of training runs, and the pass-rate difficulty report of a data set."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rethinker.data.loaders import COLUMN_PRESETS, load_examples
from rethinker.data.virl39k import VIRL39K_COLUMNS
from rethinker.errors import UserError
from rethinker.report.difficulty import difficulty_report
from rethinker.report.metrics import load_run
from rethinker.report.plots import features_off, plot_runs
from rethinker.report.summary import write_report
from rethinker.report.warnings import run_warnings

REPORT_DIR = "report"
"""Where the report goes by default, inside the first run directory."""
COLUMNS = {**COLUMN_PRESETS, "virl39k": VIRL39K_COLUMNS}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `report` sub-command on an `add_subparsers()` object; its `func` is `run`."""
    parser = subparsers.add_parser("report", help="plots and a Markdown summary of training runs", description=__doc__)
    parser.add_argument("runs", nargs="*", metavar="RUN_DIR", help="training run directories, overlaid in the figures")
    parser.add_argument("--out", help=f"output directory (default: RUN_DIR/{REPORT_DIR} of the first run)")
    parser.add_argument("--labels", help="comma-separated legend labels, one per run (default: directory names)")
    parser.add_argument("--smooth", type=int, default=1, help="moving average window over training steps (default 1)")
    parser.add_argument("--samples", type=int, default=3, help="generations shown per run (default 3)")
    parser.add_argument("--passrate", metavar="COLUMN", help="difficulty report of the pass rates in this column")
    parser.add_argument("--data", metavar="PATH", help="the data file (jsonl, json, parquet, HF dir) for --passrate")
    parser.add_argument("--columns", choices=sorted(COLUMNS), default="default", help="column layout of --data")
    parser.add_argument("--category", metavar="KEY", help="break the difficulty report down by this metadata key")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the requested reports; a bad argument or unreadable input is a `UserError` (one line, exit 2)."""
    out = output_dir(args)
    if args.runs:
        report_runs(args.runs, out, parse_labels(args.labels, len(args.runs)), args.smooth, args.samples)
    if args.passrate:
        report_difficulty(Path(args.data), args.passrate, args.columns, out, args.category)
    return 0


def output_dir(args: argparse.Namespace) -> Path:
    """The output directory; checks that the arguments ask for something coherent."""
    if not args.runs and not args.passrate:
        raise UserError("nothing to report: give RUN_DIR(s) and/or --passrate COLUMN --data PATH")
    if bool(args.passrate) != bool(args.data):
        raise UserError("--passrate and --data go together")
    if args.smooth < 1 or args.samples < 0:
        raise UserError("--smooth must be at least 1 and --samples at least 0")
    if args.out:
        return Path(args.out)
    if not args.runs:
        raise UserError("--out is required when no RUN_DIR is given")
    return Path(args.runs[0]) / REPORT_DIR


def parse_labels(labels: str | None, runs: int) -> list[str | None]:
    """One label per run from `a,b,...`, or None each (the directory name is used)."""
    if labels is None:
        return [None] * runs
    names = [name.strip() for name in labels.split(",")]
    if len(names) != runs or not all(names):
        raise UserError(f"--labels needs {runs} non-empty comma-separated names, got {labels!r}")
    return list(names)


def report_runs(run_dirs: list[str], out: Path, labels: list[str | None], smooth: int, samples: int) -> None:
    """Figures, `report.md` and `report.json` for the runs."""
    runs = [load_run(path, label) for path, label in zip(run_dirs, labels, strict=True)]
    figures = plot_runs(runs, out, smooth)
    markdown, data = write_report(runs, figures, out, samples, smooth)
    for run in runs:
        for text in run_warnings(run):
            print(f"WARNING {run.label}: {text}", file=sys.stderr)
    off = features_off(runs)
    left_out = f"; left out as features that were off (all zero): {', '.join(off)}" if off else ""
    print(f"{len(figures)} figures, {markdown} and {data} written to {out}{left_out}")


def report_difficulty(data: Path, column: str, columns: str, out: Path, category: str | None) -> None:
    """The difficulty report of a data file; images are not needed, so their column is not read."""
    loaded = load_examples(data, columns=replace(COLUMNS[columns], images=None), on_error="skip")
    report = difficulty_report(loaded.examples, column, out, category)
    skipped = f", {len(loaded.skipped)} unreadable rows skipped" if loaded.skipped else ""
    print(f"difficulty of {len(loaded.examples)} examples{skipped}: {report.markdown}, {report.figure}")
