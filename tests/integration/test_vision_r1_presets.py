"""The Vision-R1 tiny presets resolve to the paper's recipe: HFRRF, KL 1e-2 (k3), PTST stages, the right prompt."""

from __future__ import annotations

from rethinker.config import RLConfig, load_config
from rethinker.data.synthetic import make_synthetic
from rethinker.models.prompts import SYSTEM_PROMPTS, build_messages


def system_text(config: RLConfig) -> str | None:
    """The system message the preset's prompt gives a synthetic example, None when there is none."""
    example = make_synthetic(1, seed=0, families=["count"])[0]
    messages = build_messages(example, config.prompt.template, config.prompt.system)
    return messages[0]["content"] if messages[0]["role"] == "system" else None


def test_vision_r1_tiny_is_ptst_with_hfrrf_and_no_system_text() -> None:
    config = load_config(RLConfig, "vision-r1-tiny", [])
    assert config.reward.fn == "hfrrf"
    assert (config.algo.kl_coef, config.algo.kl_type) == (0.01, "k3")
    assert [(stage.steps, stage.max_new_tokens, stage.group_size) for stage in config.stages] == [
        (15, 96, 8),
        (15, 128, 4),
    ]
    assert config.train.steps == sum(stage.steps for stage in config.stages)
    assert config.eval.max_new_tokens == 128
    assert system_text(config) is None


def test_vision_r1_zero_tiny_is_hfrrf_from_the_base_model_with_the_r1_system_prompt() -> None:
    config = load_config(RLConfig, "vision-r1-zero-tiny", [])
    assert config.reward.fn == "hfrrf"
    assert config.model.path == "tiny"
    assert system_text(config) == SYSTEM_PROMPTS["r1"]
    assert len(config.stages) == 2 and config.algo.kl_coef == 0.01


def test_vision_r1_long_tiny_is_one_long_stage_of_small_groups() -> None:
    config = load_config(RLConfig, "vision-r1-long-tiny", [])
    ptst = load_config(RLConfig, "vision-r1-tiny", [])
    assert config.reward.fn == "hfrrf"
    assert [(stage.steps, stage.group_size) for stage in config.stages] == [(config.train.steps, 4)]
    assert config.stages[0].max_new_tokens > max(stage.max_new_tokens for stage in ptst.stages)
