"""Rollouts with vLLM on GPU, colocated with training: same prompts, same pixel bounds, same log-prob contract.

Written against vLLM's offline API (`vllm.LLM`, `vllm.SamplingParams`, `RequestOutput`; V1 engine, v0.10.2 and later,
where `logprobs_mode` exists). vLLM is an optional extra and is imported only when this engine is built.

- Log-probabilities. The project's contract (the HF engine's) is log softmax(logits / T) of the sampled token over
  the whole vocabulary, before blocking, top-k and top-p. vLLM's `logprobs_mode="raw_logprobs"` returns
  log softmax(logits) before any processing, which is that contract exactly when T is 1 (and for greedy decoding, where
  the HF engine records T = 1 too). No vLLM mode returns the temperature-scaled, unfiltered value (the "processed"
  modes are taken after top-k/top-p), so at any other temperature the log-probs come back as NaN: they must be
  recomputed with the trainer's model (the rethink stage does that already for its continuations at T = 0.9).
- Images. `PromptInputs` holds each `<|image_pad|>` expanded to its image's token count, while vLLM expects one
  placeholder per image and expands it itself; each run of image pads is collapsed to one. vLLM's Qwen-VL input
  parser takes images (or precomputed embeddings), not patch pixels, so the images are rebuilt from the prompt's
  pixels: the processor's resize already happened and the inverse of rescale + normalise + patchify is exact to the
  8-bit pixel (the trainer's processor maps the rebuilt images back to identical pixels), so vLLM, given the same
  pixel bounds, computes the same grid and image-token count.
- Special tokens. Like the HF engine, every special token except EOS is blocked (vLLM `bad_words`, one token each).
- Continuations. A prompt whose ids already hold a partial response plus a trigger is sent as those exact token ids;
  vLLM continues that sequence.
- Colocation. The engine is built with `enable_sleep_mode`; `sleep()` frees its GPU memory for the update (level 1:
  weights go to host RAM, level 2: they are dropped), `sync_weights()` loads the trainer's parameters after an update
  and `generate()` wakes it up (reloading dropped weights first).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import socket
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from PIL import Image
from torch import nn
from transformers import Qwen2VLImageProcessorPil

from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.rollout.base import Generation, SamplingParams

INSTALL_HINT = "rollout.engine=vllm needs vLLM: pip install 'rethinker[vllm]' on a CUDA machine"
EXACT_LOGPROB_TEMPERATURES = (0.0, 1.0)


def vllm_installed() -> bool:
    """Whether `vllm` can be imported here (already imported counts: a module built in memory has no import spec)."""
    return "vllm" in sys.modules or importlib.util.find_spec("vllm") is not None


def import_vllm() -> ModuleType:
    """The `vllm` module, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def check_logprob_temperatures(temperatures: Iterable[float | None]) -> None:
    """Refuse rollout temperatures at which vLLM cannot return the contract's log-probs (None = not overridden)."""
    inexact = sorted({t for t in temperatures if t is not None and t not in EXACT_LOGPROB_TEMPERATURES})
    if inexact:
        raise ValueError(
            f"rollout.engine=vllm returns exact rollout log-probs only at temperature 1.0 (or 0, greedy); "
            f"rollout.temperature / stages[].temperature include {inexact}"
        )


def collapse_image_pads(input_ids: Sequence[int], image_pad_id: int) -> tuple[list[int], list[int]]:
    """Token ids with each run of image pads cut to one pad (as vLLM expects), and the length of every run."""
    ids: list[int] = []
    runs: list[int] = []
    for token in input_ids:
        if token == image_pad_id and ids and ids[-1] == image_pad_id:
            runs[-1] += 1
            continue
        if token == image_pad_id:
            runs.append(1)
        ids.append(token)
    return ids, runs


def images_from_pixels(
    pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, image_processor: Qwen2VLImageProcessorPil
) -> list[Image.Image]:
    """Rebuild the (already resized) RGB images from Qwen-VL patch pixels: inverse normalise, rescale and patchify."""
    patch, merge, temporal = image_processor.patch_size, image_processor.merge_size, image_processor.temporal_patch_size
    mean = torch.tensor(image_processor.image_mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(image_processor.image_std, dtype=torch.float32).view(3, 1, 1)
    images = []
    start = 0
    for t, h, w in image_grid_thw.tolist():
        count = t * h * w
        patches = pixel_values[start : start + count].float()
        start += count
        grid = patches.view(h // merge, w // merge, merge, merge, 3, temporal, patch, patch)[:, :, :, :, :, 0]
        chw = grid.permute(4, 0, 2, 5, 1, 3, 6).reshape(3, h * patch, w * patch)
        scaled = (chw * std + mean) / image_processor.rescale_factor
        pixels = scaled.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()
        images.append(Image.fromarray(pixels.numpy()))
    return images


def vllm_prompt(prompt: PromptInputs, processor: VisionProcessor) -> dict[str, Any]:
    """A vLLM tokens prompt: one pad per image, plus the images as multimodal data; a clear error on any mismatch."""
    ids, runs = collapse_image_pads(prompt.input_ids.tolist(), processor.image_pad_id)
    if prompt.pixel_values is None or prompt.image_grid_thw is None:
        if runs:
            raise ValueError(f"prompt has {len(runs)} image placeholders but no pixels")
        return {"prompt_token_ids": ids}
    expected = [int(row.prod()) // processor.merge_size**2 for row in prompt.image_grid_thw]
    if runs != expected:
        raise ValueError(f"prompt image-token runs {runs} do not match its images' token counts {expected}")
    images = images_from_pixels(prompt.pixel_values, prompt.image_grid_thw, processor.image_processor)
    return {"prompt_token_ids": ids, "multi_modal_data": {"image": images}}


def blocked_words(processor: VisionProcessor) -> list[str]:
    """The processor's non-EOS special tokens as vLLM `bad_words`; each must encode to exactly its own id."""
    tokenizer = processor.tokenizer
    words = tokenizer.convert_ids_to_tokens(processor.special_token_ids)
    for token_id, word in zip(processor.special_token_ids, words, strict=True):
        if tokenizer.encode(word, add_special_tokens=False) != [token_id]:
            raise ValueError(f"special token {word!r} does not encode to its id {token_id}: vLLM could not block it")
    return list(words)


def vllm_sampling_kwargs(params: SamplingParams, seed: int, eos_id: int, bad_words: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments of `vllm.SamplingParams` for one prompt: the sampled token's log-prob only, EOS stops."""
    return {
        "n": params.n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "max_tokens": params.max_new_tokens,
        "logprobs": 0,
        "seed": seed,
        "stop_token_ids": [eos_id],
        "bad_words": list(bad_words),
        "detokenize": False,
    }


def to_generation(completion: Any, eos_id: int, exact_logprobs: bool) -> Generation:
    """A `Generation` from a vLLM `CompletionOutput` (token ids, per-token `{id: Logprob}`, finish reason)."""
    token_ids = list(completion.token_ids)
    ended = completion.finish_reason == "stop"
    if ended and (not token_ids or token_ids[-1] != eos_id):
        raise RuntimeError(f"vLLM stopped without EOS {eos_id} (stop reason {completion.stop_reason!r})")
    if exact_logprobs:
        logprobs = [step[token].logprob for step, token in zip(completion.logprobs, token_ids, strict=True)]
    else:
        logprobs = [math.nan] * len(token_ids)
    return Generation(torch.tensor(token_ids, dtype=torch.long), torch.tensor(logprobs, dtype=torch.float32), ended)


def launcher_env(environ: dict[str, str]) -> dict[str, str]:
    """torch.distributed variables vLLM's in-process `external_launcher` needs, for those torchrun did not set."""
    defaults = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    missing = {key: value for key, value in defaults.items() if key not in environ}
    if "MASTER_PORT" not in environ:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            missing["MASTER_PORT"] = str(probe.getsockname()[1])
    return missing


@dataclass(frozen=True)
class VLLMSettings:
    """How to build the colocated vLLM engine for a checkpoint."""

    model_path: str
    dtype: str
    gpu_memory_utilization: float
    sleep_level: int
    max_num_seqs: int
    max_images_per_prompt: int
    max_model_len: int | None
    seed: int
    trust_remote_code: bool = False

    def llm_kwargs(self, processor: VisionProcessor) -> dict[str, Any]:
        """Keyword arguments of `vllm.LLM`, with the trainer processor's pixel bounds."""
        size = processor.image_processor.size
        return {
            "model": self.model_path,
            "dtype": self.dtype,
            "seed": self.seed,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enable_sleep_mode": self.sleep_level > 0,
            "max_num_seqs": self.max_num_seqs,
            "max_model_len": self.max_model_len,
            "limit_mm_per_prompt": {"image": self.max_images_per_prompt},
            "mm_processor_kwargs": {"min_pixels": int(size.shortest_edge), "max_pixels": int(size.longest_edge)},
            "logprobs_mode": "raw_logprobs",
            "distributed_executor_backend": "external_launcher",
            "trust_remote_code": self.trust_remote_code,
        }


class VLLMRolloutEngine:
    """A rollout engine over an in-process `vllm.LLM` that shares the GPU with training and follows its weights."""

    def __init__(self, llm: Any, vllm: ModuleType, model: nn.Module, processor: VisionProcessor, sleep_level: int):
        self.llm = llm
        self.vllm = vllm
        self.model = model
        self.processor = processor
        self.sleep_level = sleep_level
        self.eos_id = int(processor.tokenizer.eos_token_id)
        self.bad_words = blocked_words(processor)
        self.asleep: set[str] = set()
        self.weights_dropped = False

    @classmethod
    def create(cls, settings: VLLMSettings, model: nn.Module, processor: VisionProcessor) -> VLLMRolloutEngine:
        """Start vLLM in this process (torchrun's rank and device, or a one-process group) for the checkpoint."""
        vllm = import_vllm()
        os.environ.update(launcher_env(dict(os.environ)))
        llm = vllm.LLM(**settings.llm_kwargs(processor))
        return cls(llm, vllm, model, processor, settings.sleep_level)

    def sleep(self) -> None:
        """Free vLLM's GPU memory before a policy update (no-op when sleep mode is off or it already sleeps)."""
        if self.sleep_level == 0 or self.asleep:
            return
        self.llm.sleep(level=self.sleep_level)
        self.asleep = {"weights", "kv_cache"}
        self.weights_dropped = self.sleep_level == 2

    def wake(self) -> None:
        """Bring weights (reloaded from the trainer's model if they were dropped) and the KV cache back."""
        self._wake_weights()
        if self.weights_dropped:
            self._load_weights()
        if "kv_cache" in self.asleep:
            self.llm.wake_up(tags=["kv_cache"])
            self.asleep.discard("kv_cache")

    def sync_weights(self) -> None:
        """Load the trainer's current parameters into vLLM and drop KV blocks cached under the old weights."""
        self._wake_weights()
        self._load_weights()
        if "kv_cache" not in self.asleep:
            self.llm.reset_prefix_cache()

    def generate(self, prompts: Sequence[PromptInputs], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt, `params.n` responses in prompt order; each prompt's seed is drawn from torch's RNG."""
        if not prompts:
            return []
        self.wake()
        requests = [vllm_prompt(prompt, self.processor) for prompt in prompts]
        sampling = [
            self.vllm.SamplingParams(
                **vllm_sampling_kwargs(params, int(torch.randint(0, 2**31 - 1, ()).item()), self.eos_id, self.bad_words)
            )
            for _ in prompts
        ]
        outputs = self.llm.generate(requests, sampling, use_tqdm=False)
        exact = params.temperature in EXACT_LOGPROB_TEMPERATURES
        return [
            [to_generation(c, self.eos_id, exact) for c in sorted(output.outputs, key=lambda c: c.index)]
            for output in outputs
        ]

    def _wake_weights(self) -> None:
        if "weights" in self.asleep:
            self.llm.wake_up(tags=["weights"])
            self.asleep.discard("weights")

    def _load_weights(self) -> None:
        runner_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        runner_model.load_weights(self._named_weights())
        self.weights_dropped = False

    def _named_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name, parameter in self.model.named_parameters():
            yield name, parameter.detach()
