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
