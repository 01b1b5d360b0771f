"""Counts that show what the pipeline did: per-stage outcomes, drop reasons, totals over every run, request retries."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("images", "pseudo_cot", "description", "reasoning", "filter")
"""The stages a record passes through, in order; a record is dropped at the first one that fails."""


@dataclass
class RunStats:
    """This run's per-stage counts and drop reasons, plus kept/dropped totals including earlier runs.

    `retried_drops` counts records dropped in earlier runs for transient reasons that this run tries again.
    """

    records: int
    already_finished: int
    retried_drops: int = 0
    stages: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kept: int = 0
    drop_reasons: Counter[str] = field(default_factory=Counter)
    total_kept: int = 0
    total_drop_reasons: Counter[str] = field(default_factory=Counter)

    def stage(self, name: str, outcome: str) -> None:
        """Count one outcome ("started", "succeeded", "failed") of a stage."""
        self.stages[name][outcome] += 1

    def finish(self, drop_reason: str | None) -> None:
        """Count one finished record: kept when `drop_reason` is None."""
        if drop_reason is None:
            self.kept += 1
            self.total_kept += 1
        else:
            self.drop_reasons[drop_reason] += 1
            self.total_drop_reasons[drop_reason] += 1

    @property
    def finished(self) -> int:
        """Records finished in this run."""
        return self.kept + sum(self.drop_reasons.values())

    def to_dict(self, requests: dict[str, Any]) -> dict[str, Any]:
        """A JSON-ready view, with the clients' request counts under `requests`."""
        total_dropped = sum(self.total_drop_reasons.values())
        return {
            "records": self.records,
            "already_finished": self.already_finished,
            "retried_drops": self.retried_drops,
            "this_run": {
                "finished": self.finished,
                "kept": self.kept,
                "dropped": sum(self.drop_reasons.values()),
                "drop_reasons": dict(sorted(self.drop_reasons.items())),
                "stages": {name: dict(self.stages[name]) for name in STAGES if name in self.stages},
            },
            "totals": {
                "finished": self.total_kept + total_dropped,
                "kept": self.total_kept,
                "dropped": total_dropped,
                "drop_reasons": dict(sorted(self.total_drop_reasons.items())),
            },
            "requests": requests,
        }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half of it."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
