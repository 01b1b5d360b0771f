"""`rethinker eval`: generate a model's responses to a benchmark, score them with its official rules, write the report.

The run reads top to bottom: load problems -> skip the finished ones (resume) -> for each batch: prompts, responses,
optional test-time rethinking, scores, append to `samples.jsonl` -> aggregate with the shared writers -> add sampling
(pass@k, maj@k) and rethinking summaries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.eval.alignment import OFFICIAL, TrainedPrompting, find_run_config, read_trained_prompting
from rethinker.eval.judge import JudgeSettings, judge_report, scoring_benchmark
from rethinker.eval.lengths import check_prompt_limit, default_prompt_limit, default_response_tokens, model_context
from rethinker.eval.outputs import write_outputs
from rethinker.eval.records import (
    SKIPPED_DETAIL,
    recorded_responses,
    rethink_results,
    sampling_results,
    score_problem,
)
from rethinker.eval.registry import get_benchmark
from rethinker.eval.responses import ProblemResponses, PromptStyle, ResponseGenerator
from rethinker.eval.samples_log import SAMPLES_FILE, SETTINGS_FILE, append_samples, check_settings, read_finished
from rethinker.eval.suites.base import Benchmark, ScoredSample
from rethinker.models.loading import inference_device_and_dtype, load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.processor import VisionProcessor
from rethinker.rollout.base import RolloutEngine, SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.rollout.triggers import BARE_WAIT
from rethinker.rollout.vllm_engine import VLLMRolloutEngine, VLLMSettings, vllm_installed

logger = logging.getLogger(__name__)


ENGINES = ("auto", "hf", "vllm")
"""`auto`: vLLM when a CUDA GPU and the `vllm` package are present (and `--device` is not the CPU), else HF."""
VLLM_MAX_IMAGES = 8
"""Images one vLLM prompt may hold in an evaluation (MMMU has up to 7)."""


@dataclass(frozen=True)
class EvalSettings:
    """Everything one `rethinker eval` run needs; greedy decoding unless `samples` > 1.

    None in `template`, `system`, the pixel bounds and `max_new_tokens` means "not given": `resolved` fills them from
    the checkpoint's training run, else with the defaults (each benchmark's own query, 2048 tokens when they fit).
    """

    model: str
    benchmark: str
    data: Path
    out: Path
    limit: int | None = None
    batch_size: int = 8
    template: str | None = None
    system: str | None = None
    max_new_tokens: int | None = None
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
    engine: str = "auto"
    gpu_memory_utilization: float = 0.9
    aligned_with: str | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "samples", "max_new_tokens", "max_prompt_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"{name} must be at least 1, got {value}")
        if self.limit is not None and self.limit < 0:
            raise UserError(f"limit must not be negative, got {self.limit}")
        if self.samples > 1 and self.sampling_temperature == 0:
            raise UserError("samples > 1 needs a temperature above 0 (greedy responses would all be the same)")
        if self.sampling_temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise UserError("need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")
        if self.engine not in ENGINES:
            raise UserError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise UserError(f"--gpu-memory-utilization must be in (0, 1], got {self.gpu_memory_utilization}")

    @property
    def sampling_temperature(self) -> float:
        """The temperature used: as given, else 0 (greedy) for one sample and 1.0 for several."""
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else 1.0

    @property
    def response_tokens(self) -> int:
        """The response length; only valid on `resolved` settings."""
        if self.max_new_tokens is None:
            raise RuntimeError("settings not resolved: max_new_tokens is unset")
        return self.max_new_tokens

    def sampling_params(self) -> SamplingParams:
        """The engine's sampling parameters for the first responses."""
        return SamplingParams(self.response_tokens, self.sampling_temperature, self.top_p, self.top_k, self.samples)

    def style(self) -> PromptStyle:
        """How problems become prompts (`official` or no template: each benchmark's own query)."""
        template = None if self.template in (None, OFFICIAL) else self.template
        return PromptStyle(template, self.system, self.min_pixels, self.max_pixels)

    def generation_settings(self) -> dict[str, Any]:
        """The settings that shape the responses (recorded in the results and checked when a run resumes)."""
        fields = asdict(self)
        for key in ("out", "limit", "batch_size", "device", "gpu_memory_utilization"):
            fields.pop(key)
        fields["data"] = str(Path(self.data).resolve())
        fields["model"] = self.model if not Path(self.model).is_dir() else str(Path(self.model).resolve())
        fields["template"] = self.template or OFFICIAL
        fields["temperature"] = self.sampling_temperature
        fields["trigger"] = BARE_WAIT if self.rethink else None
        return fields


def chosen_engine(engine: str, device: str) -> str:
    """The engine `auto` stands for here: vLLM on a CUDA machine that has it (unless the CPU is asked for), else HF."""
    if engine != "auto":
        return engine
    gpu = torch.cuda.is_available() and not device.startswith("cpu")
    return "vllm" if gpu and vllm_installed() else "hf"


def resolved(settings: EvalSettings, context: int) -> EvalSettings:
    """The settings with unset values filled: from the checkpoint's training run when there is one, then defaults.

    The run's template, system prompt, pixel bounds and response length are used unless a flag gave them;
    `--template official` asks with each benchmark's own query and leaves the run's system prompt out.
    """
    config = find_run_config(settings.model)
    trained = read_trained_prompting(config) if config else TrainedPrompting()
    official = settings.template == OFFICIAL
    return replace(
        settings,
        template=settings.template or trained.template or OFFICIAL,
        system=settings.system if settings.system is not None or official else trained.system,
        min_pixels=settings.min_pixels or trained.min_pixels,
        max_pixels=settings.max_pixels or trained.max_pixels,
        max_new_tokens=settings.max_new_tokens
        or trained.max_new_tokens
        or default_response_tokens(context, settings.rethink),
        aligned_with=str(trained.config.resolve()) if trained.config else None,
        engine=chosen_engine(settings.engine, settings.device),
    )


# ---------------------------------------------------------------- the run


def build_engine(settings: EvalSettings, path: Path, processor: VisionProcessor) -> RolloutEngine:
    """The rollout engine `settings.engine` names: Hugging Face `generate`, or vLLM.

    vLLM loads the checkpoint itself; with no trainer weights to follow (sleep level 0, no weight sync), it is given
    an empty module in place of the trainer's model.
    """
    if settings.engine == "vllm":
        vllm_settings = VLLMSettings(
            model_path=str(path),
            dtype=settings.dtype,
            gpu_memory_utilization=settings.gpu_memory_utilization,
            sleep_level=0,
            max_num_seqs=settings.batch_size * settings.samples,
            max_images_per_prompt=VLLM_MAX_IMAGES,
            max_model_len=None,
            seed=settings.seed,
        )
        return VLLMRolloutEngine.create(vllm_settings, nn.Module(), processor)
    device, dtype = inference_device_and_dtype(settings.device, settings.dtype)
    model = load_model(path, dtype).to(device)
    return HFRolloutEngine.for_processor(model, processor, settings.batch_size * settings.samples)


def load_generator(settings: EvalSettings, context: int) -> ResponseGenerator:
    """Load the processor, check the lengths fit the context, then load the engine and build the generator."""
    path = resolve_model_path(settings.model)
    processor = load_processor(path, settings.min_pixels, settings.max_pixels)
    trigger_tokens = len(processor.tokenizer.encode(BARE_WAIT, add_special_tokens=False)) if settings.rethink else None
    if settings.max_prompt_tokens is not None:
        check_prompt_limit(context, settings.max_prompt_tokens, settings.response_tokens, trigger_tokens)
    max_prompt_tokens = settings.max_prompt_tokens or default_prompt_limit(
        context, settings.response_tokens, trigger_tokens
    )
    engine = build_engine(settings, path, processor)
    return ResponseGenerator(engine, processor, settings.sampling_params(), max_prompt_tokens, settings.rethink)


def generate_missing(
    settings: EvalSettings,
    benchmark: Benchmark,
    examples: Sequence[Example],
    finished: dict[str, ScoredSample],
    context: int,
) -> dict[str, ScoredSample]:
    """Generate and score every unfinished problem batch by batch, appending each batch to `samples.jsonl`."""
    todo = [example for example in examples if example.id not in finished]
    new: dict[str, ScoredSample] = {}
    if not todo:
        return new
    torch.manual_seed(settings.seed)
    generator = load_generator(settings, context)
    style = settings.style()
    log_path = Path(settings.out) / SAMPLES_FILE
    with tqdm(total=len(examples), initial=len(examples) - len(todo), desc=benchmark.NAME, unit="problem") as bar:
        for start in range(0, len(todo), settings.batch_size):
            batch = todo[start : start + settings.batch_size]
            responses = generator.respond(batch, benchmark, style)
            prefetch_answers(benchmark, responses)
            scored = [score_problem(benchmark, item) for item in responses]
            append_samples(log_path, scored)
            new.update((sample.id, sample) for sample in scored)
            bar.update(len(batch))
    return new


def prefetch_answers(benchmark: Benchmark, responses: Sequence[ProblemResponses]) -> None:
    """Let a judged benchmark extract every answer of a batch at once (first responses and rethinks)."""
    prefetch = getattr(benchmark, "prefetch", None)
    if prefetch is None:
        return
    texts = [
        (text, item.example)
        for item in responses
        for attempt in item.attempts
        for text in (attempt.response, attempt.rethought)
        if text is not None
    ]
    prefetch(texts)


def rescore_finished(
    benchmark: Benchmark, examples: Sequence[Example], finished: dict[str, ScoredSample]
) -> dict[str, ScoredSample]:
    """Score the finished problems again from their recorded responses, so a judge reads resumed ones too."""
    responses = [recorded_responses(finished[example.id], example) for example in examples if example.id in finished]
    prefetch_answers(benchmark, responses)
    return {item.example.id: score_problem(benchmark, item) for item in responses}


def _finished_for(examples: Sequence[Example], out: Path) -> dict[str, ScoredSample]:
    """The finished samples of this selection; samples of problems outside it mean the folder holds another run."""
    finished = read_finished(out / SAMPLES_FILE)
    foreign = sorted(set(finished) - {example.id for example in examples})
    if foreign:
        raise UserError(
            f"{out / SAMPLES_FILE} holds {len(foreign)} problem(s) outside this selection (e.g. {foreign[:3]}); "
            "use the same data and a limit at least as large, or a fresh --out"
        )
    return finished


def run_eval(settings: EvalSettings, judge: JudgeSettings | None = None) -> dict[str, Any]:
    """Evaluate a model on a benchmark, resuming a run left unfinished in `settings.out`; return the results.

    With `judge`, answers are extracted by the judge endpoint (the rules when it fails) before the benchmark's rules
    compare them with the gold answers.
    """
    benchmark = get_benchmark(settings.benchmark)
    context = model_context(resolve_model_path(settings.model))
    settings = resolved(settings, context)
    if settings.aligned_with:
        logger.info(
            "asking as trained (%s): template %r, system %r, pixels %s..%s, %d new tokens",
            settings.aligned_with,
            settings.template,
            settings.system,
            settings.min_pixels,
            settings.max_pixels,
            settings.response_tokens,
        )
    examples = benchmark.load(Path(settings.data), limit=settings.limit)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    finished = _finished_for(examples, out)
    check_settings(out / SETTINGS_FILE, settings.generation_settings(), fresh=not finished)
    scoring = scoring_benchmark(benchmark, judge)
    if judge is not None and finished:
        finished = rescore_finished(scoring, examples, finished)
    new = generate_missing(settings, scoring, examples, finished, context)
    scored = [new.get(example.id) or finished[example.id] for example in examples]
    extra: dict[str, Any] = {
        "counts": {
            "resumed": len(finished),
            "generated": len(new),
            "skipped": sum(1 for sample in scored if SKIPPED_DETAIL in sample.details),
        },
        "generation": settings.generation_settings(),
    }
    if settings.samples > 1:
        extra["sampling"] = sampling_results(scored, settings.samples, settings.rethink)
    if settings.rethink:
        extra["rethink"] = rethink_results(benchmark, examples, scored)
    extra.update(judge_report(scoring))
    results = write_outputs(out, scoring, examples, scored, extra)
    logger.info("%s: %d problems (%d resumed, %d generated)", benchmark.NAME, len(scored), len(finished), len(new))
    return results
