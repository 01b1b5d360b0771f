"""Configuration: presets, overrides, and errors that name the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinker.config import ConfigError, RLConfig, dump_config, load_config


def test_default_preset_and_overrides() -> None:
    config = load_config(RLConfig, None, ["rollout.group_size=4", "optim.lr=3e-4", "replay.mode=ssr"])
    assert config.model.path == "tiny"
    assert config.rollout.group_size == 4 and config.optim.lr == 3e-4 and config.replay.mode == "ssr"


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="rollout.grup_size"):
        load_config(RLConfig, None, ["rollout.grup_size=4"])


def test_bad_value_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="replay.mode"):
        load_config(RLConfig, None, ["replay.mode=sometimes"])
    with pytest.raises(ConfigError, match="rethink"):
        load_config(RLConfig, None, ["rethink.fraction=2"])


def test_missing_data_path_names_the_key() -> None:
    with pytest.raises(ConfigError, match="data.path"):
        load_config(RLConfig, None, ["data.source=file"])


def test_dumped_config_loads_back_identically(tmp_path: Path) -> None:
    config = load_config(RLConfig, None, ["rethink.enabled=true", "rethink.triggers=[a, b]"])
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    assert load_config(RLConfig, str(path), []) == config


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ConfigError, match="tiny"):
        load_config(RLConfig, "no-such-preset", [])


RL_PRESETS = (
    "tiny",
    "vl-rethinker-stage1",
    "vl-rethinker-stage2",
    "vl-rethinker-stage1-tiny",
    "vl-rethinker-stage2-tiny",
    "vision-r1-7b",
    "vision-r1-long",
    "vision-r1-zero",
    "vision-r1-tiny",
    "vision-r1-long-tiny",
    "vision-r1-zero-tiny",
)


@pytest.mark.parametrize("name", RL_PRESETS)
def test_every_rl_preset_validates(name: str) -> None:
    config = load_config(RLConfig, name, [])
    assert config.train.steps >= 1


def test_paper_presets_carry_the_papers_numbers() -> None:
    stage2 = load_config(RLConfig, "vl-rethinker-stage2", [])
    assert stage2.replay.mode == "ssr" and stage2.replay.alpha == 1.0 and stage2.rethink.enabled
    assert stage2.prompt.template == "rethink" and stage2.algo.sft_coef == 0.05 and stage2.optim.lr == 1e-6
    assert stage2.train.queries_per_episode == 1024 and stage2.train.update_batch_size == 512
    vision_r1 = load_config(RLConfig, "vision-r1-7b", [])
    assert [(s.max_new_tokens, s.group_size, s.steps) for s in vision_r1.stages] == [(4096, 16, 100), (8192, 8, 100)]
    assert vision_r1.reward.fn == "hfrrf" and vision_r1.algo.kl_coef == 0.01 and vision_r1.algo.kl_type == "k3"
    long = load_config(RLConfig, "vision-r1-long", [])
    assert [(s.max_new_tokens, s.group_size, s.steps) for s in long.stages] == [(16384, 4, 300)]
    assert load_config(RLConfig, "vision-r1-zero", []).reward.fn == "r1_zero"
