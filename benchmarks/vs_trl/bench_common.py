"""What both sides of the benchmark share: the run settings, the prompts and images, and the result record."""

from __future__ import annotations

import json
import math
import resource
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rethinker.data.schema import Example
from rethinker.data.synthetic import make_synthetic
from rethinker.models.prompts import TEMPLATES, question_with_choices
from rethinker.rewards.verify import Verifier

SEED = 0
GROUP_SIZE = 8
PROMPTS_PER_STEP = 2
LEARNING_RATE = 1e-4
MAX_PROMPT_TOKENS = 4096
THREADS = 2
IMAGE_TOKENS = 16
PATCH_SIZE = 14
MERGE_SIZE = 2
CLIP_EPS = 0.2
ADAM_BETAS = (0.9, 0.95)
GRAD_CLIP = 1.0
DATASET_SIZE = 64
"""Synthetic train items both sides read, in order (no shuffling), so both see the same prompts at the same step."""


def image_side(image_tokens: int, patch_size: int = PATCH_SIZE, merge_size: int = MERGE_SIZE) -> int:
    """Side in pixels of the square image that a Qwen2.5-VL processor turns into exactly `image_tokens` tokens.

    One image token is a merge_size x merge_size block of patches, so a square of k x k tokens is k * patch * merge
    pixels wide; the benchmark sets both pixel bounds to that area so no resizing changes the count.
    """
    root = math.isqrt(image_tokens)
    if image_tokens < 1 or root * root != image_tokens:
        raise ValueError(f"image tokens must be a positive square (16, 256, 1024...), got {image_tokens}")
    return root * patch_size * merge_size


@dataclass(frozen=True)
class RunSpec:
    """One benchmark process: which side, response length, steps, model, and the cell's image tokens and group size."""

    side: str
    max_new_tokens: int
    steps: int
    model_dir: str
    work_dir: str
    group_size: int = GROUP_SIZE
    image_tokens: int = IMAGE_TOKENS
    prompts_per_step: int = PROMPTS_PER_STEP
    threads: int = THREADS

    @property
    def batch_size(self) -> int:
        """Samples per optimizer step: prompts x group size."""
        return self.group_size * self.prompts_per_step

    def to_json(self) -> str:
        """The spec as one JSON line, the way the driver passes it to a child process."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Read the spec the driver wrote."""
        return cls(**json.loads(text))


@dataclass
class StepRecord:
    """One optimizer step as measured in the child: wall and CPU time, and the number of tokens generated for it.

    CPU time (this process's user + system time) is far less sensitive than wall time to other jobs on a shared machine.
    """

    seconds: float
    cpu_seconds: float
    generated_tokens: int
    parts: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    """Everything one process measured: its steps, and the peak resident memory of the whole process."""

    spec: RunSpec
    steps: list[StepRecord]
    max_rss_mb: float

    def save(self, path: Path) -> None:
        """Write the result as JSON for the driver."""
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> RunResult:
        """Read a result written by `save`."""
        data = json.loads(path.read_text())
        steps = [StepRecord(**step) for step in data["steps"]]
        return cls(RunSpec(**data["spec"]), steps, float(data["max_rss_mb"]))


def train_examples(image_tokens: int = IMAGE_TOKENS) -> list[Example]:
    """The synthetic items both sides train on, exactly as `rethinker train` builds them for `data.synthetic`."""
    return make_synthetic(DATASET_SIZE, SEED, "train", image_size=image_side(image_tokens))


def prompt_text(example: Example) -> str:
    """The user text of an example under the default template (the image goes before it, as in `build_messages`)."""
    return TEMPLATES["default"].format(question=question_with_choices(example))


def wait_for_verifier(verifier: Verifier) -> None:
    """Block until the verifier's math-verify worker is up, so its start-up lands in no timed step on either side.

    The worker warms up in the background from the verifier's construction; an expression check needs it.
    """
    verifier.verify("x^2-1", "(x-1)(x+1)")


def peak_rss_mb(status: Path = Path("/proc/self/status")) -> float:
    """Peak resident memory of this process so far, in MiB: `VmHWM`, this process's own high-water mark.

    Not `ru_maxrss`: Linux carries the parent's high-water mark into a child across fork/exec, so every child of a
    driver holding a model would report at least the driver's memory. Where /proc is missing, `ru_maxrss` (KiB).
    """
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_after_warmup(values: list[float], warmup: int) -> float:
    """Median of the values after dropping the first `warmup` of them."""
    kept = values[warmup:]
    if not kept:
        raise ValueError(f"no values left after {warmup} warm-up steps out of {len(values)}")
    return statistics.median(kept)


def side_main(run: Callable[[RunSpec], RunResult], argv: list[str]) -> int:
    """Entry point of a side process: run the spec given as JSON and write its result where the driver asked."""
    spec_json, result_path = argv
    run(RunSpec.from_json(spec_json)).save(Path(result_path))
    return 0
