"""The vLLM rollout engine, on CPU: a real tiny model and processor, and an in-test stand-in for the `vllm` module.

The stand-in mirrors the parts of vLLM's offline API (V1 engine, v0.10.2 - v0.11) the engine uses, with the same
names and call shapes: `vllm.LLM(model, **engine_args)` with `.generate(prompts, sampling_params, *, use_tqdm)`,
`.sleep(level)`, `.wake_up(tags)`, `.reset_prefix_cache()` and
`.llm_engine.model_executor.driver_worker.model_runner.model.load_weights` (vllm/entrypoints/llm.py, vllm/v1/executor);
`vllm.SamplingParams` with its keyword fields (vllm/sampling_params.py); `RequestOutput.outputs` of
`CompletionOutput(index, text, token_ids, cumulative_logprob, logprobs, finish_reason, stop_reason)` whose `logprobs`
is one `{token_id: Logprob(logprob, rank, decoded_token)}` per generated token (vllm/outputs.py, vllm/logprobs.py).
Nothing here proves the engine on a GPU with real vLLM; that check is still to be run.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoTokenizer

from rethinker.config import RLConfig, Stage
from rethinker.models.loading import load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.vllm_engine import (
    VLLMRolloutEngine,
    collapse_image_pads,
    images_from_pixels,
    launcher_env,
)
from rethinker.train.policy import build_engine

LAUNCHER_KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class FakeSamplingParams:
    """vllm.SamplingParams: the keyword fields the engine may pass (an unknown one is a TypeError, as in vLLM)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop_token_ids: list[int] | None = None
    max_tokens: int | None = 16
    logprobs: int | None = None
    bad_words: list[str] | None = None
    detokenize: bool = True


@dataclass
class Logprob:
    """vllm.logprobs.Logprob."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    """vllm.outputs.CompletionOutput: one sampled sequence of a request."""

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    """vllm.outputs.RequestOutput: a request's `n` completions."""

    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True


@dataclass
class RunnerModel:
    """The vLLM model object whose `load_weights(iterable of (name, tensor))` takes checkpoint-named weights."""

    loads: list[dict[str, torch.Tensor]] = field(default_factory=list)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        loaded = {name: tensor.clone() for name, tensor in weights}
        self.loads.append(loaded)
        return set(loaded)


class FakeLLM:
    """vllm.LLM: records its engine args and every call; generates deterministic tokens from the request."""

    def __init__(self, model: str, **engine_args: Any) -> None:
        self.model = model
        self.eos = AutoTokenizer.from_pretrained(model).eos_token_id
        self.engine_args = engine_args
        self.calls: list[tuple[Any, ...]] = []
        self.requests: list[dict[str, Any]] = []
        self.params: list[FakeSamplingParams] = []
        runner = types.SimpleNamespace(model=RunnerModel())
        self.llm_engine = types.SimpleNamespace(
            model_executor=types.SimpleNamespace(driver_worker=types.SimpleNamespace(model_runner=runner))
        )

    @property
    def runner_model(self) -> RunnerModel:
        return self.llm_engine.model_executor.driver_worker.model_runner.model

    def sleep(self, level: int = 1) -> None:
        self.calls.append(("sleep", level))

    def wake_up(self, tags: list[str] | None = None) -> None:
        self.calls.append(("wake_up", tuple(tags or ())))

    def reset_prefix_cache(self) -> bool:
        self.calls.append(("reset_prefix_cache",))
        return True

    def generate(
        self, prompts: Sequence[dict[str, Any]], sampling_params: Sequence[FakeSamplingParams], *, use_tqdm: bool = True
    ) -> list[RequestOutput]:
        self.calls.append(("generate", len(prompts)))
        self.requests.extend(prompts)
        self.params.extend(sampling_params)
        return [
            RequestOutput(
                str(r), prompt["prompt_token_ids"], [self._sample(prompt, params, i) for i in range(params.n)]
            )
            for r, (prompt, params) in enumerate(zip(prompts, sampling_params, strict=True))
        ]

    def _sample(self, prompt: dict[str, Any], params: FakeSamplingParams, index: int) -> CompletionOutput:
        """Sample `index`: first token = prompt length (shows order); even samples stop with EOS, odd hit max_tokens."""
        first = len(prompt["prompt_token_ids"]) + 10 * index
        if index % 2 == 0:
            tokens, reason, stop = [first, first + 1, self.eos], "stop", None
        else:
            tokens, reason, stop = [first + k for k in range(params.max_tokens)], "length", None
        logprobs = [{token: Logprob(-0.1 * (k + 1) - index, rank=1)} for k, token in enumerate(tokens)]
        return CompletionOutput(index, "", tokens, None, logprobs, reason, stop)


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, VisionProcessor]:
    path = resolve_model_path("tiny")
    return load_model(path), load_processor(path)


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM
    module.SamplingParams = FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    for key in LAUNCHER_KEYS:
        monkeypatch.delenv(key, raising=False)
    return module


def vllm_config(**rollout: Any) -> RLConfig:
    config = RLConfig()
    config.rollout = config.rollout.model_copy(update={"engine": "vllm", **rollout})
    return config


def engine_for(tiny: tuple[torch.nn.Module, VisionProcessor], **rollout: Any) -> VLLMRolloutEngine:
    model, processor = tiny
    engine = build_engine(vllm_config(**rollout), model, processor)
    assert isinstance(engine, VLLMRolloutEngine)
    return engine


def image_prompt(processor: VisionProcessor, sizes: Sequence[tuple[int, int]]) -> PromptInputs:
    rng = np.random.default_rng(len(sizes))
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": "How many sides?"}]
    return processor.encode(processor.render([{"role": "user", "content": content}]), images)


def text_prompt(processor: VisionProcessor, text: str) -> PromptInputs:
    return processor.encode(processor.render([{"role": "user", "content": [{"type": "text", "text": text}]}]), [])


def test_without_vllm_choosing_it_says_how_to_install(
    tiny: tuple[torch.nn.Module, VisionProcessor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    model, processor = tiny
    with pytest.raises(ImportError, match=r"pip install 'rethinker\[vllm\]' on a CUDA machine"):
        build_engine(vllm_config(), model, processor)


def test_engine_args_carry_checkpoint_pixel_bounds_and_colocation(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny, vllm_gpu_memory_utilization=0.3, batch_size=48, vllm_max_model_len=4096)
    llm = engine.llm
    size = tiny[1].image_processor.size
    assert llm.model == str(resolve_model_path("tiny"))
    assert llm.engine_args["mm_processor_kwargs"] == {"min_pixels": size.shortest_edge, "max_pixels": size.longest_edge}
    assert llm.engine_args["logprobs_mode"] == "raw_logprobs"
    assert llm.engine_args["enable_sleep_mode"] is True
    assert llm.engine_args["gpu_memory_utilization"] == 0.3
    assert llm.engine_args["max_num_seqs"] == 48
    assert llm.engine_args["max_model_len"] == 4096
    assert llm.engine_args["distributed_executor_backend"] == "external_launcher"
    assert os.environ["WORLD_SIZE"] == "1" and os.environ["RANK"] == "0"


def test_temperatures_without_exact_logprobs_are_refused(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    model, processor = tiny
    with pytest.raises(ValueError, match="temperature"):
        build_engine(vllm_config(temperature=0.9), model, processor)
    staged = vllm_config()
    staged.train.steps = 2
    staged.stages = [
        Stage(steps=1, max_new_tokens=8, group_size=2),
        Stage(steps=1, max_new_tokens=8, group_size=2, temperature=0.7),
    ]
    with pytest.raises(ValueError, match=r"0\.7"):
        build_engine(staged, model, processor)


def test_requests_hold_one_pad_per_image_the_images_and_the_sampling_settings(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    model, processor = tiny
    engine = engine_for(tiny)
    with_images = image_prompt(processor, [(70, 97), (200, 150)])
    plain = text_prompt(processor, "What is 2 + 3?")
    params = SamplingParams(max_new_tokens=5, temperature=1.0, top_p=0.95, top_k=40, n=4)
    engine.generate([with_images, plain], params)
    first, second = engine.llm.requests
    pad = processor.image_pad_id
    ids = with_images.input_ids.tolist()
    assert first["prompt_token_ids"].count(pad) == 2
    assert [t for t in first["prompt_token_ids"] if t != pad] == [t for t in ids if t != pad]
    images = first["multi_modal_data"]["image"]
    assert [img.size for img in images] == [(w * 14, h * 14) for _, h, w in with_images.image_grid_thw.tolist()]
    again = processor.image_processor(images=images, return_tensors="pt")
    assert torch.equal(again["pixel_values"], with_images.pixel_values)
    assert second == {"prompt_token_ids": plain.input_ids.tolist()}
    sent = engine.llm.params[0]
    assert (sent.n, sent.temperature, sent.top_p, sent.top_k, sent.max_tokens) == (4, 1.0, 0.95, 40, 5)
    assert sent.logprobs == 0 and sent.stop_token_ids == [processor.tokenizer.eos_token_id]
    blocked = set(processor.tokenizer.convert_tokens_to_ids(sent.bad_words))
    assert blocked == set(processor.special_token_ids) and pad in blocked
    assert processor.tokenizer.eos_token_id not in blocked


def test_seeds_follow_torch_rng_and_differ_per_prompt(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny)
    prompts = [text_prompt(tiny[1], "a"), text_prompt(tiny[1], "b")]
    params = SamplingParams(max_new_tokens=3)
    torch.manual_seed(7)
    engine.generate(prompts, params)
    torch.manual_seed(7)
    engine.generate(prompts, params)
    seeds = [p.seed for p in engine.llm.params]
    assert seeds[:2] == seeds[2:] and seeds[0] != seeds[1]


def test_outputs_become_generations_in_prompt_and_sample_order(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny)
    prompts = [text_prompt(tiny[1], "short"), text_prompt(tiny[1], "a somewhat longer question here")]
    groups = engine.generate(prompts, SamplingParams(max_new_tokens=4, n=3))
    assert [len(g) for g in groups] == [3, 3]
    for prompt, group in zip(prompts, groups, strict=True):
        assert [int(g.token_ids[0]) for g in group] == [prompt.length + 10 * i for i in range(3)]
    stopped, cut = groups[0][0], groups[0][1]
    assert stopped.ended_with_eos and int(stopped.token_ids[-1]) == engine.llm.eos and stopped.length == 3
    assert torch.allclose(stopped.logprobs, torch.tensor([-0.1, -0.2, -0.3]))
    assert not cut.ended_with_eos and cut.length == 4
    assert torch.allclose(cut.logprobs, torch.tensor([-1.1, -1.2, -1.3, -1.4]))


def test_logprobs_are_nan_where_vllm_cannot_match_the_contract(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny)
    prompt = text_prompt(tiny[1], "q")
    scaled = engine.generate([prompt], SamplingParams(max_new_tokens=3, temperature=0.9))[0][0]
    greedy = engine.generate([prompt], SamplingParams(max_new_tokens=3, temperature=0.0))[0][0]
    assert torch.isnan(scaled.logprobs).all() and scaled.length == 3
    assert not torch.isnan(greedy.logprobs).any()


def test_a_forced_continuation_sends_the_exact_partial_response_and_trigger(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    model, processor = tiny
    engine = engine_for(tiny)
    base = image_prompt(processor, [(84, 84)])
    partial = processor.tokenizer.encode("The answer is 4", add_special_tokens=False)
    trigger = processor.tokenizer.encode("\n\nWait, let's double check", add_special_tokens=False)
    forced = replace(base, input_ids=torch.cat([base.input_ids, torch.tensor(partial + trigger)]))
    group = engine.generate([forced], SamplingParams(max_new_tokens=6, temperature=1.0))
    sent = engine.llm.requests[0]["prompt_token_ids"]
    collapsed, _ = collapse_image_pads(base.input_ids.tolist(), processor.image_pad_id)
    assert sent == collapsed + partial + trigger
    assert len(engine.llm.requests[0]["multi_modal_data"]["image"]) == 1
    assert int(group[0][0].token_ids[0]) == len(sent)


def test_a_prompt_whose_image_tokens_were_cut_is_rejected(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny)
    whole = image_prompt(tiny[1], [(84, 84)])
    pad_positions = (whole.input_ids == tiny[1].image_pad_id).nonzero().flatten()
    cut = replace(
        whole, input_ids=torch.cat([whole.input_ids[: pad_positions[-1]], whole.input_ids[pad_positions[-1] + 1 :]])
    )
    with pytest.raises(ValueError, match="do not match"):
        engine.generate([cut], SamplingParams(max_new_tokens=2))


def test_sync_weights_hands_every_named_parameter_to_vllm(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    model, _ = tiny
    engine = engine_for(tiny, vllm_sleep_level=0)
    name, parameter = next(iter(model.named_parameters()))
    with torch.no_grad():
        parameter.add_(1.0)
        engine.sync_weights()
        parameter.sub_(1.0)
    loaded = engine.llm.runner_model.loads[-1]
    assert list(loaded) == [n for n, _ in model.named_parameters()]
    assert torch.equal(loaded[name], parameter + 1.0)
    assert engine.llm.calls[-1] == ("reset_prefix_cache",)


def test_sleep_level_1_frees_memory_and_generate_wakes_weights_then_cache(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny, vllm_sleep_level=1)
    engine.sleep()
    engine.sleep()
    engine.sync_weights()
    engine.generate([text_prompt(tiny[1], "q")], SamplingParams(max_new_tokens=2))
    assert engine.llm.calls == [
        ("sleep", 1),
        ("wake_up", ("weights",)),
        ("wake_up", ("kv_cache",)),
        ("generate", 1),
    ]
    assert len(engine.llm.runner_model.loads) == 1


def test_sleep_level_2_reloads_dropped_weights_before_generating(
    tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType
) -> None:
    engine = engine_for(tiny, vllm_sleep_level=2)
    engine.sleep()
    engine.generate([text_prompt(tiny[1], "q")], SamplingParams(max_new_tokens=2))
    assert engine.llm.calls[:3] == [("sleep", 2), ("wake_up", ("weights",)), ("wake_up", ("kv_cache",))]
    assert len(engine.llm.runner_model.loads) == 1


def test_sleep_level_0_never_sleeps(tiny: tuple[torch.nn.Module, VisionProcessor], fake_vllm: types.ModuleType) -> None:
    engine = engine_for(tiny, vllm_sleep_level=0)
    engine.sleep()
    assert engine.llm.engine_args["enable_sleep_mode"] is False
    assert engine.llm.calls == []


def test_collapse_image_pads_keeps_one_pad_per_run() -> None:
    ids, runs = collapse_image_pads([1, 5, 5, 5, 2, 7, 1, 5, 5, 2], image_pad_id=5)
    assert ids == [1, 5, 2, 7, 1, 5, 2]
    assert runs == [3, 2]


def test_images_rebuilt_from_pixels_reprocess_to_the_same_pixels(tiny: tuple[torch.nn.Module, VisionProcessor]) -> None:
    image_processor = tiny[1].image_processor
    rng = np.random.default_rng(0)
    originals = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in [(70, 97), (300, 41)]]
    processed = image_processor(images=originals, return_tensors="pt")
    rebuilt = images_from_pixels(processed["pixel_values"], processed["image_grid_thw"], image_processor)
    again = image_processor(images=rebuilt, return_tensors="pt")
    assert torch.equal(again["image_grid_thw"], processed["image_grid_thw"])
    assert torch.equal(again["pixel_values"], processed["pixel_values"])


def test_launcher_env_fills_only_what_torchrun_did_not_set() -> None:
    torchrun = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "node01", "MASTER_PORT": "29500"}
    assert launcher_env(torchrun) == {}
    alone = launcher_env({})
    assert {k: alone[k] for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE")} == {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
    }
    assert 0 < int(alone["MASTER_PORT"]) < 65536
