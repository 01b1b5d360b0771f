"""`rethinker eval`: generate a model's responses to a benchmark, score them with its official rules, write the report.

The run reads top to bottom: load problems -> skip the finished ones (resume) -> for each batch: prompts, responses,
optional test-time rethinking, scores, append to `samples.jsonl` -> aggregate with the shared writers -> add sampling
(pass@k, maj@k) and rethinking summaries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from rethinker.data.schema import Example
from rethinker.eval.benchmarks.base import Benchmark, ScoredSample
from rethinker.eval.outputs import markdown_table, write_atomically, write_outputs
from rethinker.eval.records import SKIPPED_DETAIL, rethink_results, sampling_results, score_problem
from rethinker.eval.registry import get_benchmark
from rethinker.eval.responses import PromptStyle, ResponseGenerator
from rethinker.eval.samples_log import SAMPLES_FILE, SETTINGS_FILE, append_samples, check_settings, read_finished
from rethinker.models.loading import inference_device_and_dtype, load_model, load_processor
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.rollout.triggers import BARE_WAIT
from rethinker.train.policy import resolve_model_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalSettings:
    """Everything one `rethinker eval` run needs; greedy decoding unless `samples` > 1."""

    model: str
    benchmark: str
    data: Path
    out: Path
    limit: int | None = None
    batch_size: int = 8
    template: str | None = None
    system: str | None = None
    max_new_tokens: int = 2048
    samples: int = 1
    temperature: float | None = None
    top_p: float = 1.0
    top_k: int = 0
    rethink: bool = False
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_prompt_tokens: int | None = None
    dtype: str = "auto"
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "samples", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must not be negative, got {self.limit}")
        if self.samples > 1 and self.sampling_temperature == 0:
            raise ValueError("samples > 1 needs a temperature above 0 (greedy responses would all be the same)")
        if self.sampling_temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")

    @property
    def sampling_temperature(self) -> float:
        """The temperature used: as given, else 0 (greedy) for one sample and 1.0 for several."""
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else 1.0

    def sampling_params(self) -> SamplingParams:
        """The engine's sampling parameters for the first responses."""
        return SamplingParams(self.max_new_tokens, self.sampling_temperature, self.top_p, self.top_k, self.samples)

    def style(self) -> PromptStyle:
        """How problems become prompts."""
        return PromptStyle(self.template, self.system, self.min_pixels, self.max_pixels)

    def generation_settings(self) -> dict[str, Any]:
        """The settings that shape the responses (recorded in the results and checked when a run resumes)."""
        fields = asdict(self)
        for key in ("out", "limit", "batch_size", "device"):
            fields.pop(key)
        fields["data"] = str(Path(self.data).resolve())
        fields["model"] = self.model if self.model == "tiny" else str(Path(self.model).resolve())
        fields["temperature"] = self.sampling_temperature
        fields["trigger"] = BARE_WAIT if self.rethink else None
        return fields


# ---------------------------------------------------------------- the run


def load_generator(settings: EvalSettings) -> ResponseGenerator:
    """Load the model and processor and build the batched HF generator for `settings`."""
    device, dtype = inference_device_and_dtype(settings.device, settings.dtype)
    path = resolve_model_path(settings.model)
    model = load_model(path, dtype).to(device)
    processor = load_processor(path, settings.min_pixels, settings.max_pixels)
    tokenizer = processor.tokenizer
    engine = HFRolloutEngine.for_processor(model, processor, settings.batch_size * settings.samples)
    trigger_tokens = len(tokenizer.encode(BARE_WAIT, add_special_tokens=False)) if settings.rethink else None
    max_prompt_tokens = settings.max_prompt_tokens or default_prompt_limit(
        model.config.get_text_config().max_position_embeddings, settings.max_new_tokens, trigger_tokens
    )
    return ResponseGenerator(engine, processor, settings.sampling_params(), max_prompt_tokens, settings.rethink)


def default_prompt_limit(context: int, max_new_tokens: int, trigger_tokens: int | None) -> int:
    """The longest prompt whose responses (and, with `trigger_tokens`, trigger and continuation) fit the context."""
    budget = max_new_tokens if trigger_tokens is None else 2 * max_new_tokens + trigger_tokens
    if budget >= context:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in a context of {context}")
    return context - budget


def generate_missing(
    settings: EvalSettings, benchmark: Benchmark, examples: Sequence[Example], finished: dict[str, ScoredSample]
) -> dict[str, ScoredSample]:
    """Generate and score every unfinished problem batch by batch, appending each batch to `samples.jsonl`."""
    todo = [example for example in examples if example.id not in finished]
    new: dict[str, ScoredSample] = {}
    if not todo:
        return new
    torch.manual_seed(settings.seed)
    generator = load_generator(settings)
    style = settings.style()
    log_path = Path(settings.out) / SAMPLES_FILE
    with tqdm(total=len(examples), initial=len(examples) - len(todo), desc=benchmark.NAME, unit="problem") as bar:
        for start in range(0, len(todo), settings.batch_size):
            batch = todo[start : start + settings.batch_size]
            scored = [score_problem(benchmark, item) for item in generator.respond(batch, benchmark, style)]
            append_samples(log_path, scored)
            new.update((sample.id, sample) for sample in scored)
            bar.update(len(batch))
    return new


def _finished_for(examples: Sequence[Example], out: Path) -> dict[str, ScoredSample]:
    """The finished samples of this selection; samples of problems outside it mean the folder holds another run."""
    finished = read_finished(out / SAMPLES_FILE)
    foreign = sorted(set(finished) - {example.id for example in examples})
    if foreign:
        raise ValueError(
            f"{out / SAMPLES_FILE} holds {len(foreign)} problem(s) outside this selection (e.g. {foreign[:3]}); "
            "use the same data and a limit at least as large, or a fresh --out"
        )
    return finished


def write_report(out: Path, benchmark: Benchmark, results: dict[str, Any]) -> None:
    """Rewrite `results.json` and `results.md` with the extended results (sampling, rethinking, settings)."""
    table = markdown_table(results)
    settings = "\n".join(f"- {key}: {value!r}" for key, value in results["generation"].items())
    write_atomically(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    markdown = f"# {benchmark.NAME}\n\n{table}\n## Generation\n\n{settings}\n\n{benchmark.EXTRACTION_NOTE}\n"
    write_atomically(out / "results.md", markdown)


def run_eval(settings: EvalSettings) -> dict[str, Any]:
    """Evaluate a model on a benchmark, resuming a run left unfinished in `settings.out`; return the results."""
    benchmark = get_benchmark(settings.benchmark)
    examples = benchmark.load(Path(settings.data), limit=settings.limit)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    finished = _finished_for(examples, out)
    check_settings(out / SETTINGS_FILE, settings.generation_settings(), fresh=not finished)
    new = generate_missing(settings, benchmark, examples, finished)
    scored = [new.get(example.id) or finished[example.id] for example in examples]
    results = write_outputs(out, benchmark, examples, scored)
    results["counts"].update(
        resumed=len(finished),
        generated=len(new),
        skipped=sum(1 for sample in scored if SKIPPED_DETAIL in sample.details),
    )
    results["generation"] = settings.generation_settings()
    if settings.samples > 1:
        results["sampling"] = sampling_results(scored, settings.samples, settings.rethink)
    if settings.rethink:
        results["rethink"] = rethink_results(benchmark, examples, scored)
    write_report(out, benchmark, results)
    logger.info("%s: %d problems (%d resumed, %d generated)", benchmark.NAME, len(scored), len(finished), len(new))
    return results
