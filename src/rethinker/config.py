"""Typed, validated configuration: YAML presets plus `key=value` overrides; an unknown key is an error naming it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from rethinker.errors import UserError

T = TypeVar("T", bound=BaseModel)


class Strict(BaseModel):
    """Base for config sections: unknown keys are rejected, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _threads_value(value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"must be auto or a whole number of threads, 1 or more; got {value!r}")


Threads = Annotated[
    Literal["auto"] | int,
    BeforeValidator(_threads_value),
    Field(
        description="CPU threads for torch. auto: up to the count torch starts with (OMP_NUM_THREADS, else the "
        "cores), fewer while other processes keep cores busy (cpu/threads logs it); N: exactly N, for runs that must "
        "repeat bit for bit whatever the load.",
    ),
]
"""The `threads` key both trainers share: torch's CPU threads, fitted to the load or fixed."""


class ModelConfig(Strict):
    path: str = Field(
        "tiny", description="A local Qwen-VL checkpoint directory, or 'tiny' for the built-in tiny model."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Precision the weights are loaded and trained in (SFT: see train.autocast)."
    )
    min_pixels: int | None = Field(
        None, description="Fewest pixels an image is resized to (Qwen-VL processor); None = the checkpoint's own."
    )
    max_pixels: int | None = Field(
        None, description="Most pixels an image is resized to (Qwen-VL processor); None = the checkpoint's own."
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, more time."
    )
    trust_remote_code: bool = Field(False, description="Let transformers run model code shipped with the checkpoint.")


class SyntheticConfig(Strict):
    train_size: int = Field(4096, description="Number of generated training examples.")
    eval_size: int = Field(200, description="Number of generated held-out examples.")
    families: list[str] | None = Field(
        None, description="Task families to generate (count, count_color, compare, sum_count, max_color); None = all."
    )
    image_size: int = Field(84, description="Side of the generated square images, in pixels.")


class DataConfig(Strict):
    source: Literal["synthetic", "file", "virl39k"] = Field(
        "synthetic",
        description="synthetic: generated visual tasks; file: JSONL/JSON/Parquet/HF datasets dir; virl39k: ViRL39K.",
    )
    path: str | None = Field(None, description="Training data file or directory (required unless source=synthetic).")
    eval_path: str | None = Field(
        None, description="Held-out data in the same format; None = no held-out set (synthetic makes its own)."
    )
    columns: dict[str, Any] = Field(
        default_factory=dict,
        description="Where the fields are: {preset: NAME} and/or explicit column names (question, answer, ...).",
    )
    image_root: str | None = Field(
        None, description="Where relative image paths resolve; default: the data file's folder."
    )
    on_error: Literal["raise", "skip"] = Field(
        "raise",
        description="A bad row or image: raise stops with its location; skip counts it (data/skipped) and goes on.",
    )
    synthetic: SyntheticConfig = Field(
        default_factory=SyntheticConfig, description="Settings of the generated tasks (source=synthetic)."
    )
    passrate_column: str | None = Field(
        None, description="Column holding each example's pass rate; set it to train only on an interval of them."
    )
    passrate_interval: str | None = Field(
        None, description="Pass rates kept, as a quoted interval such as '(0, 1]' (the default)."
    )
    shuffle: bool = Field(True, description="Shuffle the training examples each pass (seeded).")
    pixel_cache_mb: int = Field(
        256, ge=0, description="Host RAM kept for reusing processed pixel tensors, in MiB (token ids are cached apart)."
    )

    @field_validator("passrate_interval", mode="before")
    @classmethod
    def _interval_is_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise ValueError("quote the interval so its brackets stay text, e.g. data.passrate_interval='(0, 1]'")
        return value

    @model_validator(mode="after")
    def _needs_path(self) -> DataConfig:
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.path is required when data.source is {self.source!r}")
        return self


class PromptConfig(Strict):
    template: str = Field(
        "default", description="A named prompt template (default, rethink, r1, plain) or your own text with {question}."
    )
    system: str | None = Field(None, description="System message; None = none.")
    max_prompt_tokens: int = Field(
        1024, description="Longer prompts (image tokens included) are skipped and counted, never cut."
    )


class RolloutConfig(Strict):
    engine: Literal["hf", "vllm"] = Field("hf", description="hf: the built-in Hugging Face engine; vllm: vLLM (GPU).")
    group_size: int = Field(8, ge=1, description="G: responses sampled per query.")
    temperature: float = Field(1.0, ge=0.0, description="Sampling temperature of the responses (0 = greedy).")
    top_p: float = Field(
        1.0, gt=0.0, le=1.0, description="Nucleus sampling: smallest token set of this total probability (1 = off)."
    )
    top_k: int = Field(0, ge=0, description="Sample among the k likeliest tokens (0 = off).")
    max_new_tokens: int = Field(64, ge=1, description="Response length budget in tokens (a PTST stage overrides it).")
    batch_size: int = Field(64, ge=1, description="Sequences generated at once (vLLM: max_num_seqs).")
    vllm_gpu_memory_utilization: float = Field(
        0.4, gt=0.0, le=1.0, description="vLLM: share of GPU memory for its weights and KV cache (training shares it)."
    )
    vllm_sleep_level: Literal[0, 1, 2] = Field(
        1, description="vLLM: free GPU memory during updates; 1 keeps weights in host RAM, 2 drops them, 0 never."
    )
    vllm_max_model_len: int | None = Field(
        None, ge=1, description="vLLM: prompt + response token limit; None = the checkpoint's own."
    )
    vllm_max_images_per_prompt: int = Field(4, ge=1, description="vLLM: most images one prompt may hold.")
    old_logprobs: Literal["auto", "recompute", "engine"] = Field(
        "auto",
        description="pi_old of the update: recompute = the trainer's own forward pass over each fresh rollout (one "
        "extra forward, no backward); engine = the rollout engine's sampled-token log-probs; auto = recompute unless "
        "the trainer's own HF engine samples in float32, where its log-probs already are the forward pass's.",
    )

    def recomputes_old_logprobs(self, dtype: str) -> bool:
        """Whether pi_old is recomputed by the trainer for a model of `dtype` (see `old_logprobs`)."""
        if self.old_logprobs == "auto":
            return self.engine != "hf" or dtype != "float32"
        return self.old_logprobs == "recompute"


class RewardConfig(Strict):
    fn: str = Field(
        "accuracy", description="Reward: accuracy, hfrrf, r1_zero, or your own as module:function or path.py:function."
    )
    shaping: Literal["none", "released"] = Field(
        "none", description="released: the authors' released reward shaping (truncation, waits, rethinks); none: off."
    )
    workers: int = Field(1, ge=1, description="Worker processes checking answers with math-verify.")
    timeout_s: float = Field(
        2.0, gt=0, description="Time limit of one answer check, in seconds (a check that runs over counts as wrong)."
    )


class AlgoConfig(Strict):
    adv_norm: Literal["std", "mean", "none"] = Field(
        "std", description="Group advantage: std = (r - mean) / std (paper); mean = r - mean (released); none = r."
    )
    eps_low: float = Field(0.2, ge=0.0, description="Lower clip range of the policy ratio (1 - eps_low).")
    eps_high: float = Field(
        0.2, ge=0.0, description="Upper clip range of the policy ratio (1 + eps_high; DAPO's clip-higher when larger)."
    )
    loss_agg: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"] = Field(
        "token-mean",
        description="Loss reduction: token-mean (released, DAPO), seq-mean-token-mean (GRPO), "
        "seq-mean-token-sum-norm (Dr. GRPO).",
    )
    kl_coef: float = Field(
        0.0, ge=0.0, description="Weight of the KL penalty to the reference model (0 = no reference model)."
    )
    kl_type: Literal["k1", "k3"] = Field(
        "k3", description="KL estimator: k1 (log ratio) or k3 (non-negative, low variance)."
    )
    update_epochs: int = Field(1, ge=1, description="Passes (optimizer steps) over each update batch.")
    sft_coef: float = Field(0.05, ge=0.0, description="Weight of the imitation loss on accepted forced rethinks.")


TriggerRule = Literal["uniform", "released"]
TriggerPreset = Literal["paper", "released", "wait"]


class RethinkConfig(Strict):
    """Forced rethinking (SPEC section 4): the paper's behaviour by default, the released code's as switches."""

    enabled: bool = Field(False, description="Force some finished responses to continue after a 'Wait, ...' trigger.")
    fraction: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description="q: each eligible response is forced with this probability (the paper says q < 1; released 0.65).",
    )
    max_len_frac: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Eligible only if the response is at most this share of the response budget (released: 0.5).",
    )
    skip_wrong_in_easy: bool = Field(
        False,
        description="Released switch: skip wrong responses of queries whose group accuracy exceeds the threshold.",
    )
    easy_threshold: float = Field(
        0.7, ge=0.0, le=1.0, description="Group accuracy above which a query is easy (skip_wrong_in_easy)."
    )
    trigger_rule: TriggerRule = Field(
        "uniform",
        description="uniform: any trigger of the set alike (paper); released: by the first answer's correctness.",
    )
    triggers: TriggerPreset | tuple[str, ...] = Field(
        "paper", description="A trigger preset (paper, released, wait) or a list of your own trigger texts."
    )
    cut_prob: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Probability of cutting the response before its final answer (paper 0.0, released 0.5).",
    )
    temperature: float = Field(0.9, gt=0.0, description="Sampling temperature of the forced continuation.")
    min_new_tokens: int = Field(
        30, ge=0, description="A continuation is kept only if longer than this many tokens (exclusive)."
    )
    max_new_tokens: int = Field(
        1024, ge=1, description="Token budget of the continuation; one reaching it is rejected as too long."
    )
    max_waits: int = Field(4, ge=0, description="Most 'wait's a kept continuation may hold (its trigger included).")
    max_accepted_per_query: int = Field(2, ge=0, description="Most accepted rethinks kept per query.")

    @field_validator("triggers", mode="before")
    @classmethod
    def _known_triggers(cls, value: Any) -> Any:
        presets = get_args(TriggerPreset)
        if isinstance(value, str) and value not in presets:
            raise ValueError(f"unknown trigger preset {value!r}; choose one of {', '.join(presets)} or give a list")
        if isinstance(value, list | tuple) and (
            not value or not all(isinstance(text, str) and text.strip() for text in value)
        ):
            raise ValueError("a list of triggers needs at least one trigger, each a non-blank string")
        return value

    @model_validator(mode="after")
    def _kept_lengths_exist(self) -> RethinkConfig:
        if self.min_new_tokens >= self.max_new_tokens:
            raise ValueError(
                f"need min_new_tokens < max_new_tokens, got {self.min_new_tokens} and {self.max_new_tokens}"
            )
        return self

    @classmethod
    def released(cls) -> RethinkConfig:
        """The authors' released-code settings: skip wrong answers in easy groups, released trigger rule, cut half."""
        return cls(enabled=True, skip_wrong_in_easy=True, trigger_rule="released", triggers="released", cut_prob=0.5)


class OptimConfig(Strict):
    lr: float = Field(1e-4, gt=0, description="Peak learning rate (AdamW).")
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="Learning-rate schedule after warm-up: constant or cosine."
    )
    warmup_frac: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of the steps spent warming the learning rate up linearly."
    )
    min_lr_ratio: float = Field(0.5, ge=0.0, le=1.0, description="cosine: the final learning rate as a share of lr.")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW's (beta1, beta2).")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW's decoupled weight decay.")
    grad_clip: float = Field(1.0, gt=0, description="Gradients are clipped to this global norm.")


class ReplayConfig(Strict):
    mode: Literal["none", "filter", "dapo", "ssr", "ssr_released"] = Field(
        "none",
        description="Which samples an update trains on: none, filter (|A| > 0), ssr (Selective Sample Replay), "
        "ssr_released (released-code SSR), dapo (dynamic sampling).",
    )
    alpha: float = Field(
        1.0, ge=0.0, description="ssr: replay priority |A|^alpha (0 = uniform over effective samples)."
    )
    lifetime: Literal["episode", "persistent"] = Field(
        "episode", description="ssr: episode empties the buffer at each new episode (paper); persistent keeps it."
    )
    capacity: int | None = Field(
        None, ge=1, description="ssr: most samples kept in the buffer, oldest dropped first; None = no limit."
    )
    dapo_max_rounds: int = Field(4, ge=1, description="dapo: most rollout rounds to fill groups whose rewards differ.")
    released_all_correct_frac: float = Field(
        0.1, ge=0.0, le=1.0, description="ssr_released: all-correct candidates, as a share of the effective samples."
    )


class TrainConfig(Strict):
    steps: int = Field(100, ge=1, description="Number of policy updates.")
    max_nonfinite_in_a_row: int = Field(
        3, ge=1, description="Updates with a non-finite loss, gradient or advantage skipped in a row before stopping."
    )
    queries_per_episode: int = Field(16, ge=1, description="Queries rolled out with one policy snapshot.")
    update_batch_size: int = Field(0, ge=0, description="Samples per update; 0 = the whole episode in one update.")
    micro_batch_size: int = Field(
        32, ge=1, description="Samples per forward/backward pass (gradient accumulation is exact)."
    )


class EvalConfig(Strict):
    every: int = Field(25, ge=0, description="Held-out accuracy every N updates (0 = never); also after the last one.")
    size: int = Field(200, ge=0, description="At most this many held-out examples.")
    max_new_tokens: int | None = Field(
        None, ge=1, description="Held-out response length; None = the current PTST stage's (else the rollout's)."
    )
    samples_to_log: int = Field(
        8, ge=0, description="Held-out generations written to samples/step-N.jsonl for a person to read."
    )
    at_start: bool = Field(True, description="Measure held-out accuracy before the first update.")


class Stage(Strict):
    """One PTST stage: how many updates it lasts and the rollout settings it imposes."""

    steps: int = Field(ge=1, description="Updates this stage lasts.")
    max_new_tokens: int = Field(ge=1, description="Response length budget during this stage.")
    group_size: int = Field(ge=1, description="Responses per query during this stage.")
    temperature: float | None = Field(
        None, ge=0.0, description="Sampling temperature during this stage; None = rollout.temperature."
    )


def stage_at(stages: Sequence[Stage], step: int) -> int:
    """Index of the PTST stage that update number `step` (0-based) belongs to; the last stage extends past its end."""
    if not stages:
        raise ValueError("the schedule has no stages")
    end = 0
    for index, stage in enumerate(stages):
        end += stage.steps
        if step < end:
            return index
    return len(stages) - 1


class CheckpointConfig(Strict):
    every: int = Field(50, ge=0, description="Save a checkpoint every N updates (0 = only at the end).")
    keep: int = Field(2, ge=1, description="Newest checkpoints kept; older ones are deleted.")


class LoggingConfig(Strict):
    tensorboard: bool = Field(True, description="Write TensorBoard event files beside metrics.jsonl.")
    wandb: bool = Field(False, description="Also log to Weights & Biases (needs wandb installed and logged in).")
    wandb_project: str = Field("rethinker", description="The W&B project runs are logged to.")
    progress: bool = Field(True, description="Show a progress bar.")


class DistributedConfig(Strict):
    backend: Literal["auto", "gloo", "nccl"] = Field("auto", description="auto: NCCL with GPUs, else gloo.")
    timeout_s: float = Field(7200.0, gt=0, description="Collective timeout; rank 0 evaluates while the others wait.")
    seed_per_query: bool = Field(
        False, description="Seed sampling per query (always on under torchrun, so sharding keeps the samples)."
    )


class RLConfig(Strict):
    """Everything one RL run needs; `rethinker train` resolves it from a preset, a YAML file and overrides."""

    seed: int = Field(0, description="Seed of every random draw (data order, sampling, rethinking, replay).")
    run_dir: str = Field("runs/default", description="Where checkpoints, metrics and samples are written.")
    resume: bool = Field(False, description="Continue from the newest checkpoint in run_dir.")
    resume_force: bool = Field(False, description="Resume even when settings that break exactness changed.")
    threads: Threads = "auto"
    model: ModelConfig = Field(default_factory=ModelConfig, description="The policy model and its image processing.")
    data: DataConfig = Field(default_factory=DataConfig, description="The training and held-out data.")
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="How a question becomes a prompt.")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="How responses are sampled.")
    reward: RewardConfig = Field(default_factory=RewardConfig, description="How responses are scored.")
    algo: AlgoConfig = Field(
        default_factory=AlgoConfig, description="GRPO's advantage, clipped loss, KL and imitation loss."
    )
    replay: ReplayConfig = Field(
        default_factory=ReplayConfig, description="Which samples each update trains on (SSR and friends)."
    )
    rethink: RethinkConfig = Field(
        default_factory=RethinkConfig, description="Forced rethinking during training (VL-Rethinker)."
    )
    optim: OptimConfig = Field(default_factory=OptimConfig, description="The optimizer and learning-rate schedule.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="How long to train and in what batches.")
    stages: list[Stage] = Field(default_factory=list, description="PTST schedule; empty = rollout settings throughout.")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Held-out accuracy during training.")
    checkpoint: CheckpointConfig = Field(
        default_factory=CheckpointConfig, description="When to save and how many to keep."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Where metrics go.")
    distributed: DistributedConfig = Field(
        default_factory=DistributedConfig, description="Multi-process training under torchrun."
    )

    @model_validator(mode="after")
    def _stages_cover_training(self) -> RLConfig:
        if self.stages and sum(stage.steps for stage in self.stages) != self.train.steps:
            raise ValueError(
                f"stages last {sum(s.steps for s in self.stages)} steps but train.steps is {self.train.steps}"
            )
        return self

    def rollout_at(self, step: int) -> RolloutConfig:
        """Rollout settings of update `step`: the rollout section with the PTST stage's values laid over it."""
        if not self.stages:
            return self.rollout
        stage = self.stages[stage_at(self.stages, step)]
        changes: dict[str, Any] = {"group_size": stage.group_size, "max_new_tokens": stage.max_new_tokens}
        if stage.temperature is not None:
            changes["temperature"] = stage.temperature
        return self.rollout.model_copy(update=changes)

    def eval_max_new_tokens_at(self, step: int) -> int:
        """Held-out response length at update `step`: `eval.max_new_tokens`, else the stage's rollout length."""
        return self.eval.max_new_tokens or self.rollout_at(step).max_new_tokens


class ConfigError(UserError):
    """A configuration problem, with the offending key in the message."""


def preset_path(name: str, relative_to: Path | None = None) -> Path:
    """The YAML file of a named preset shipped in `configs/`, or `name` itself if it is a file (also beside a base)."""
    if Path(name).is_file():
        return Path(name)
    if relative_to is not None and (relative_to / name).is_file():
        return relative_to / name
    candidate = resources.files("rethinker").joinpath("configs", f"{name}.yaml")
    if candidate.is_file():
        return Path(str(candidate))
    available = sorted(p.name.removesuffix(".yaml") for p in resources.files("rethinker").joinpath("configs").iterdir())
    raise ConfigError(f"config {name!r} is neither a file nor a preset; presets: {', '.join(available)}")


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into its key path and a YAML-parsed value."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: cannot parse value {raw!r} as YAML: {yaml_problem(exc)}") from exc
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set `value` at the dotted `path` of nested dicts and lists (a number picks a list item), creating sections."""
    dotted = ".".join(path)
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, path, depth)]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise ConfigError(f"override {dotted}: {'.'.join(path[: depth + 1])!r} is a value, not a section or a list")
    if isinstance(node, list):
        node[_list_index(node, path[-1], path, len(path) - 1)] = value
    else:
        node[path[-1]] = value


def _list_index(items: list[Any], part: str, path: Sequence[str], depth: int) -> int:
    """The list position that `path[depth]` names, or a ConfigError saying how to index the list."""
    where = ".".join(path[:depth])
    if not part.isdigit():
        example = ".".join([*path[:depth], "0", *path[depth + 1 :]])
        raise ConfigError(
            f"override {'.'.join(path)}: {where!r} is a list; pick an item by its number, e.g. {example}=..."
        )
    if int(part) >= len(items):
        numbered = f", numbered 0 to {len(items) - 1}" if items else ""
        raise ConfigError(f"override {'.'.join(path)}: {where!r} has {len(items)} items{numbered}")
    return int(part)


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_preset(path)[0]


def read_preset(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """A preset's settings with its `base` chain merged in, and its `sources`: dotted key -> where the value comes from.

    A source is inherited from the base preset only while the child leaves that value alone.
    """
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ConfigError(f"{path}: 'base' chain loops back on itself ({chain}); point base at another preset or file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    sources = data.pop("sources", None) or {}
    if not isinstance(sources, dict):
        raise ConfigError(f"{path}: 'sources' must map dotted keys to where their values come from")
    sources = {str(key): str(text) for key, text in sources.items()}
    parent = data.pop("base", None)
    if parent is None:
        return data, sources
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: base must be a preset name or a YAML file, got {parent!r}")
    merged, inherited = read_preset(preset_path(parent, relative_to=path.parent), (*seen, path.resolve()))
    changed = set(leaf_paths(data))
    kept = {key: text for key, text in inherited.items() if key not in changed}
    return deep_merge(merged, data), {**kept, **sources}


def leaf_paths(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the values of nested mappings (a list is one value)."""
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.extend(leaf_paths(value, path + ".") if isinstance(value, dict) and value else [path])
    return paths


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error on one line: where it is and what is wrong."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"line {mark.line + 1} column {mark.column + 1}: {problem}" if mark is not None else problem


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `update` laid over `base`, recursing into sections present in both."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(schema: type[T], config: str | None, overrides: Sequence[str], default: str = "tiny") -> T:
    """Resolve preset/file + overrides into a validated config; errors name the offending key."""
    data = _read_yaml(preset_path(config or default))
    for item in overrides:
        apply_override(data, *parse_override(item))
    reject_nonfinite(data)
    try:
        resolved = schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid config: {problems}") from exc
    reject_nonfinite(resolved.model_dump(mode="python"))  # numbers given as text, such as "1e999"
    return resolved


def nonfinite_numbers(data: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """(dotted key, value) of every NaN or infinite number in a nested config dump."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from nonfinite_numbers(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from nonfinite_numbers(value, f"{prefix}.{index}")
    elif isinstance(data, float) and not math.isfinite(data):
        yield prefix, data


def reject_nonfinite(data: dict[str, Any]) -> None:
    """Refuse a config holding NaN or infinity (YAML's .nan/.inf, or numbers too large for a float), naming the key."""
    found = list(nonfinite_numbers(data))
    if found:
        keys = ", ".join(f"{key}={value}" for key, value in found)
        raise ConfigError(f"invalid config: {keys}: must be a finite number")


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML, in the shape `load_config` reads back."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
