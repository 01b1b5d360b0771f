"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL: each tiny model builds, loads, encodes images, rolls out and trains one step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, PreTrainedModel

from rethinker.config import RLConfig
from rethinker.models.loading import cache_dir, check_checkpoint
from rethinker.models.processor import PromptInputs, VisionProcessor, mm_token_type_ids
from rethinker.models.tiny import FAMILIES, RANDOM_ALIASES, ensure_tiny
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.train.grpo import GRPOTrainer
from rethinker.train.logprobs import collate, response_logprobs
from rethinker.train.samples import Sample

ALIAS = {family: alias for alias, family in RANDOM_ALIASES.items() if alias != "tiny-random"}
LOGPROB_TOLERANCE = 1e-4
"""Float32 on CPU: generation's incremental (KV-cached) forward and one full forward agree to about 1e-6."""

# A 140x70 image: patch 14 x merge 2 resizes it to 140x56 (5 x 2 merged cells of 28 px); patch 16 x merge 2 to
# 128x64 (4 x 2 cells of 32 px). Rows of pixel_values hold one 2-frame patch of 3 channels.
WIDE_IMAGE_TOKENS = {"qwen2_vl": 10, "qwen2_5_vl": 10, "qwen3_vl": 8}
PATCH_SIZE = {"qwen2_vl": 14, "qwen2_5_vl": 14, "qwen3_vl": 16}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def family_dir(family: str, private_cache: Path) -> Path:
    return ensure_tiny(cache_dir(), family=family)


@pytest.fixture(scope="module")
def loaded(family_dir: Path) -> tuple[PreTrainedModel, VisionProcessor]:
    return AutoModelForImageTextToText.from_pretrained(family_dir), VisionProcessor.from_pretrained(family_dir)


def _prompt(processor: VisionProcessor, question: str, image: Image.Image) -> PromptInputs:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    return processor.encode(processor.render(messages), [image])


def test_builds_from_config_and_loads_with_the_auto_class(family: str, family_dir: Path, loaded) -> None:
    model, processor = loaded
    assert isinstance(model, FAMILIES[family].model_class)
    assert check_checkpoint(family_dir) == model.config.model_type == family
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    assert model.config.vision_config.patch_size == processor.image_processor.patch_size == PATCH_SIZE[family]
    saved = json.loads((family_dir / "preprocessor_config.json").read_text())
    assert saved["processor_class"] == FAMILIES[family].processor_class
    attention = model.model.language_model.layers[0].self_attn
    assert hasattr(attention, "q_norm") == (family == "qwen3_vl"), "only Qwen3-VL normalises queries and keys"


def test_each_family_is_cached_in_its_own_directory(family: str, family_dir: Path) -> None:
    others = {ensure_tiny(cache_dir(), family=other) for other in FAMILIES if other != family}
    assert family_dir not in others and len(others) == len(FAMILIES) - 1
    stamp = (family_dir / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny(cache_dir(), family=family) == family_dir
    assert (family_dir / "model.safetensors").stat().st_mtime_ns == stamp


def test_image_prompt_has_the_family_token_count(family: str, loaded) -> None:
    model, processor = loaded
    prompt = _prompt(processor, "How many dots?", Image.new("RGB", (140, 70), (200, 40, 40)))
    expected = WIDE_IMAGE_TOKENS[family]
    assert int((prompt.input_ids == model.config.image_token_id).sum()) == expected
    assert int(mm_token_type_ids(prompt.input_ids, model.config.image_token_id).sum()) == expected
    patch = PATCH_SIZE[family]
    assert tuple(prompt.pixel_values.shape) == (expected * 4, 3 * 2 * patch * patch)
    with torch.no_grad():
        features = model.get_image_features(pixel_values=prompt.pixel_values, image_grid_thw=prompt.image_grid_thw)
    assert sum(part.shape[0] for part in features.pooler_output) == expected


def test_rollout_logprobs_match_a_forward_recomputation(loaded) -> None:
    model, processor = loaded
    prompts = [
        _prompt(processor, "How many dots?", Image.new("RGB", (84, 84), (123, 117, 104))),
        _prompt(processor, "How many red dots are there?", Image.new("RGB", (140, 70), (200, 40, 40))),
    ]
    engine = HFRolloutEngine.for_processor(model, processor, batch_size=16)
    torch.manual_seed(0)
    groups = engine.generate(prompts, SamplingParams(max_new_tokens=8, n=2))
    samples = [
        Sample(i, i, prompts[i].input_ids, g.token_ids, g.logprobs, "", 0.0, False, g.ended_with_eos, 0)
        for i, group in enumerate(groups)
        for g in group
    ]
    batch = collate(
        samples, processor.tokenizer.pad_token_id, lambda i: (prompts[i].pixel_values, prompts[i].image_grid_thw)
    )
    with torch.no_grad():
        recomputed = response_logprobs(model, batch)
    gap = ((recomputed - batch.old_logprobs).abs() * batch.response_mask).max()
    assert batch.response_mask.sum() >= len(samples)
    assert float(gap) < LOGPROB_TOLERANCE


def test_one_rl_step_changes_the_weights(
    family: str, tmp_path: Path, tiny_config: Callable[..., RLConfig], family_dir: Path
) -> None:
    trainer = GRPOTrainer(tiny_config(tmp_path, f"model.path={ALIAS[family]}", "train.steps=1"))
    assert trainer.policy.source == family_dir
    before = {name: p.detach().clone() for name, p in trainer.policy.model.named_parameters()}
    metrics = trainer.train_step()
    assert metrics["batch/size"] > 0 and metrics["adv/abs_mean"] > 0
    changed = [n for n, p in trainer.policy.model.named_parameters() if not torch.equal(before[n], p)]
    assert any("visual" in n for n in changed) and any("language_model" in n for n in changed)


def test_processor_files_of_another_family_are_refused(family: str, family_dir: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(family_dir, mixed)
    other = next(f for f in FAMILIES if PATCH_SIZE[f] != PATCH_SIZE[family])
    shutil.copy2(
        ensure_tiny(cache_dir(), family=other) / "preprocessor_config.json", mixed / "preprocessor_config.json"
    )
    with pytest.raises(ValueError, match="patch_size"):
        VisionProcessor.from_pretrained(mixed)


def test_official_auto_processor_gives_the_same_inputs(family_dir: Path, loaded) -> None:
    pytest.importorskip("torchvision", reason="transformers' full Qwen-VL processor needs torchvision")
    _, processor = loaded
    image = Image.new("RGB", (140, 70), (200, 40, 40))
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many dots?"}]}]
    official = AutoProcessor.from_pretrained(family_dir)
    expected = official(text=[official.apply_chat_template(messages, add_generation_prompt=True)], images=[image])
    ours = processor.encode(processor.render(messages), [image])
    assert ours.input_ids.tolist() == list(expected["input_ids"][0])
    assert torch.allclose(ours.pixel_values, torch.as_tensor(expected["pixel_values"]), atol=1e-6)
    assert ours.image_grid_thw.tolist() == torch.as_tensor(expected["image_grid_thw"]).tolist()
