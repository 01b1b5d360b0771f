"""The resumable record of an evaluation run: finished samples appended as they finish, and the settings they used.

Each finished problem is one `samples.jsonl` line (the same line the shared writer produces), flushed and synced to
disk as soon as its batch is done. A restarted run reads the finished ids back and skips them; a last line cut short by
a crash is removed. `run_settings.json` holds the settings that shape the responses, so a resumed run cannot mix
responses generated under different settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rethinker.eval.outputs import sample_line
from rethinker.eval.suites.base import ScoredSample
from rethinker.jsonl import JsonlError, parse_jsonl_line

SAMPLES_FILE = "samples.jsonl"
SETTINGS_FILE = "run_settings.json"


class ResumeError(ValueError):
    """An output folder that cannot be resumed: a corrupt line, or settings that differ from the run's."""


def _sample(line: bytes, path: Path, number: int) -> ScoredSample:
    """One `samples.jsonl` line back as a `ScoredSample`; a malformed one raises `ResumeError` naming it."""
    try:
        return ScoredSample(**parse_jsonl_line(line, path, number))
    except (JsonlError, TypeError) as error:
        reason = error.reason if isinstance(error, JsonlError) else str(error)
        raise ResumeError(f"{path} line {number}: not a sample record ({reason})") from error


def read_finished(path: Path) -> dict[str, ScoredSample]:
    """The samples finished so far, by id; a last line cut short (unreadable or without its newline) is cut off."""
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    finished: dict[str, ScoredSample] = {}
    start = kept = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        end = start + len(line)
        last = not data[end + 1 :].strip()
        if line.strip():
            try:
                sample = _sample(line, path, number)
            except ResumeError:
                if not last:
                    raise
                break
            if end == len(data):
                break
            finished[sample.id] = sample
        kept = start = min(end + 1, len(data))
    if kept < len(data):
        with path.open("r+b") as handle:
            handle.truncate(kept)
    return finished


def append_samples(path: Path, samples: Sequence[ScoredSample]) -> None:
    """Append one line per sample and force it to disk, so a crash right after loses none of them."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.writelines(sample_line(sample) + "\n" for sample in samples)
        handle.flush()
        os.fsync(handle.fileno())


def check_settings(path: Path, settings: Mapping[str, Any], fresh: bool = False) -> None:
    """Record `settings` when the run is `fresh` (nothing finished yet) or new; else raise `ResumeError` on a change.

    The error names every setting that changed.
    """
    path = Path(path)
    current = json.loads(json.dumps(settings, default=str))
    if fresh or not path.exists():
        path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
        return
    recorded = json.loads(path.read_text(encoding="utf-8"))
    changed = [
        f"{key}: {recorded.get(key)!r} -> {current.get(key)!r}"
        for key in sorted(set(recorded) | set(current))
        if recorded.get(key) != current.get(key)
    ]
    if changed:
        raise ResumeError(
            f"{path.parent} holds a run with other settings ({'; '.join(changed)}); resume with the same settings "
            "or choose a fresh --out"
        )
