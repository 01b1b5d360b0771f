"""Config loading: YAML plus dotted overrides, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rethinker.coldstart.config import load_coldstart_config
from rethinker.coldstart.prompts import DESCRIPTION_PROMPT
from rethinker.config import ConfigError, parse_override

REPO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "coldstart.yaml"


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "coldstart.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


MINIMAL = {"input": "vqa.jsonl", "output_dir": "out", "mllm": {"model": "vlm"}, "reasoner": {"model": "r1"}}


def test_example_config_loads_with_spec_prompts() -> None:
    config = load_coldstart_config(REPO_CONFIG)
    assert config.reasoner.api_key_env == "DEEPSEEK_API_KEY"
    assert config.prompts.description == DESCRIPTION_PROMPT
    assert "Following the above image description, think step by step" in config.prompts.reasoning


def test_overrides_are_parsed_as_yaml_into_nested_keys(tmp_path: Path) -> None:
    config = load_coldstart_config(
        write(tmp_path, MINIMAL), ["mllm.max_concurrency=3", "limit=5", "reasoner.extra_body.top_k=40"]
    )
    assert (config.mllm.max_concurrency, config.limit, config.reasoner.extra_body) == (3, 5, {"top_k": 40})


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["mllm.temprature=0.5"], "mllm.temprature"),
        (["outptu_dir=x"], "outptu_dir"),
        (["reasoner.max_attempts=0"], "reasoner.max_attempts"),
        (["prompts.reasoning=no placeholders"], "{description}"),
        (["filters.verify_timeout_s=0"], "filters.verify_timeout_s"),
    ],
)
def test_bad_keys_and_values_are_named(tmp_path: Path, overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("{", r"\{").replace("}", r"\}")):
        load_coldstart_config(write(tmp_path, MINIMAL), overrides)


def test_missing_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"reasoner\.model"):
        load_coldstart_config(write(tmp_path, {**MINIMAL, "reasoner": {}}))


def test_override_without_equals_sign_is_refused() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("mllm.model")
