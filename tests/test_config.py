"""Configuration: presets, overrides, and errors that name the offending key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rethinker import __version__
from rethinker.cli import main
from rethinker.config import ConfigError, RLConfig, dump_config, load_config
from rethinker.config_view import UNRECORDED, resolve, show_config, sources_table, value_sources
from rethinker.data.schema import Example
from rethinker.models.prompts import build_messages
from rethinker.rewards.registry import BUILTIN_REWARDS, get_reward_fn
from rethinker.rollout.triggers import SELF_QUESTIONING, SELF_VERIFICATION


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
    zero = load_config(RLConfig, "vision-r1-zero", [])
    assert zero.reward.fn == "hfrrf", "the paper's Vision-R1-Zero uses the same HFRRF"
    assert zero.prompt.template == "r1" and "Instruct" in zero.model.path


def test_r1_zero_stays_a_named_alternative_reward() -> None:
    config = load_config(RLConfig, "vision-r1-zero", ["reward.fn=r1_zero"])
    assert get_reward_fn(config.reward.fn) is BUILTIN_REWARDS["r1_zero"]


REAL_SCALE = {
    # preset: ([(step, rollout tokens, group size, eval tokens), ...], (min_pixels, max_pixels), (eval every, size))
    "vl-rethinker-stage1": ([(0, 2048, 8, 2048), (255, 2048, 8, 2048)], (256 * 28 * 28, 1280 * 28 * 28), (32, 500)),
    "vl-rethinker-stage2": ([(0, 2048, 8, 2048), (255, 2048, 8, 2048)], (256 * 28 * 28, 1280 * 28 * 28), (32, 500)),
    "vision-r1-7b": (
        [(0, 4096, 16, 4096), (100, 8192, 8, 8192), (199, 8192, 8, 8192)],
        (32 * 32, 768 * 768),
        (50, 500),
    ),
    "vision-r1-zero": ([(0, 4096, 16, 4096), (100, 8192, 8, 8192)], (32 * 32, 768 * 768), (50, 500)),
    "vision-r1-long": ([(0, 16384, 4, 16384), (299, 16384, 4, 16384)], (32 * 32, 768 * 768), (50, 500)),
}


@pytest.mark.parametrize("name", sorted(REAL_SCALE))
def test_real_scale_presets_have_real_scale_lengths_groups_pixels_and_eval(name: str) -> None:
    """Nothing inherited from the CPU presets: lengths, groups, pixel bounds and held-out settings are the papers'."""
    config = load_config(RLConfig, name, [])
    per_step, pixels, (every, size) = REAL_SCALE[name]
    for step, tokens, group, eval_tokens in per_step:
        rollout = config.rollout_at(step)
        assert (rollout.max_new_tokens, rollout.group_size) == (tokens, group), step
        assert config.eval_max_new_tokens_at(step) == eval_tokens, step
    assert config.rollout.max_new_tokens >= 2048 and config.rollout.engine == "vllm"
    assert (config.model.min_pixels, config.model.max_pixels) == pixels
    assert (config.eval.every, config.eval.size) == (every, size)
    assert config.model.dtype == "bfloat16" and config.data.source != "synthetic"
    assert config.prompt.max_prompt_tokens >= 4096 and config.train.micro_batch_size <= 4


def test_vision_r1_rl_prompt_follows_the_cold_start_data_without_a_system_prompt() -> None:
    config = load_config(RLConfig, "vision-r1-7b", [])
    example = Example(id="q", question="How many sides?", answer="4")
    messages = build_messages(example, config.prompt.template, config.prompt.system)
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"] == [{"type": "text", "text": "How many sides?"}]


def test_list_items_are_overridden_by_number() -> None:
    config = load_config(RLConfig, "vision-r1-7b", ["stages.0.steps=4", "stages.1.group_size=2", "train.steps=104"])
    assert [(s.steps, s.group_size) for s in config.stages] == [(4, 16), (100, 2)]
    with pytest.raises(ConfigError, match=r"'stages' is a list; pick an item by its number, e\.g\. stages\.0\.steps"):
        load_config(RLConfig, "vision-r1-7b", ["stages.first.steps=4"])
    with pytest.raises(ConfigError, match="'stages' has 2 items, numbered 0 to 1"):
        load_config(RLConfig, "vision-r1-7b", ["stages.2.steps=4"])


SOURCED = ("vl-rethinker-stage1", "vl-rethinker-stage2", "vision-r1-7b", "vision-r1-zero", "vision-r1-long")


@pytest.mark.parametrize("name", [*SOURCED, "vision-r1-cold-7b"])
def test_every_value_a_real_scale_preset_sets_has_a_recorded_source(name: str) -> None:
    sources = value_sources(name, [])
    assert UNRECORDED not in sources.values(), [k for k, v in sources.items() if v == UNRECORDED]
    sources_table(resolve(name, []), sources)  # raises if a source names a key the config lacks


def test_docs_hold_each_real_scale_presets_table_of_sources() -> None:
    """docs/recipes.md shows `rethinker config NAME --markdown` for each preset (regenerate it after a change)."""
    docs = (Path(__file__).parents[1] / "docs" / "recipes.md").read_text()
    for name in [*SOURCED, "vision-r1-cold-7b"]:
        assert show_config(name, [], markdown=True) in docs, name


def test_config_command_prints_the_resolved_vision_r1_config_with_sources(rethinker_cli) -> None:
    result = rethinker_cli("config", "vision-r1-7b", "eval.size=64")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert load_config(RLConfig, "vision-r1-7b", ["eval.size=64"]) == RLConfig.model_validate(yaml.safe_load(out))
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert "paper (PTST: 4K x 16 for 100 steps, then 8K x 8 for 100 steps)" in lines["stages"]
    assert "max_new_tokens: 4096, group_size: 16" in lines["stages"]
    assert "fn: hfrrf  # paper (HFRRF)" in out
    assert "min_pixels: 1024  # our choice" in out and "max_pixels: 589824  # our choice" in out
    assert "max_new_tokens: null  # our choice (null = the current PTST stage's length)" in out
    assert "size: 64  # command line (eval.size=64)" in out
    assert "updates 100-199: responses of 8192 tokens x 8 per query; eval responses of 8192 tokens" in out


@pytest.mark.parametrize("name", ["vl-rethinker-stage1", "vl-rethinker-stage2", "vision-r1-zero", "vision-r1-long"])
def test_config_command_shows_lengths_reward_pixels_and_their_sources(name: str, capsys) -> None:
    assert main(["config", name]) == 0
    out = capsys.readouterr().out
    config = load_config(RLConfig, name, [])
    sources = value_sources(name, [])
    assert config == RLConfig.model_validate(yaml.safe_load(out))
    for key in ("rollout.max_new_tokens", "reward.fn", "model.min_pixels", "model.max_pixels", "eval.max_new_tokens"):
        if key in sources:
            assert f"  # {sources[key]}" in out, key
    assert "stages" in sources or config.stages == []
    assert f"eval responses of {config.eval_max_new_tokens_at(0)} tokens" in out


def test_config_of_an_sft_preset_names_its_own_keys(capsys) -> None:
    assert main(["config", "vision-r1-cold-7b", "train.epochs=3"]) == 0
    assert "epochs: 3.0  # command line (train.epochs=3)" in capsys.readouterr().out
    assert main(["config", "vision-r1-cold-7b", "train.epochz=3"]) == 2
    assert "train.epochz" in capsys.readouterr().err


def test_version_and_a_bad_list_override_through_the_console(rethinker_cli, user_error) -> None:
    version = rethinker_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"rethinker {__version__}"
    user_error(rethinker_cli("config", "vision-r1-7b", "stages.one.steps=4"), "stages.0.steps", "pick an item")


def test_the_documented_small_model_triggers_file_resolves_as_written(tmp_path: Path, rethinker_cli) -> None:
    docs = (Path(__file__).parents[1] / "docs" / "recipes.md").read_text()
    block = re.search(r"```yaml\n(# stage2-small\.yaml\n.*?)```", docs, re.DOTALL)
    assert block, "docs/recipes.md shows stage2-small.yaml"
    (tmp_path / "stage2-small.yaml").write_text(block.group(1))
    result = rethinker_cli("config", str(tmp_path / "stage2-small.yaml"))
    assert result.returncode == 0, result.stderr[-2000:]
    resolved = RLConfig.model_validate(yaml.safe_load(result.stdout))
    assert resolved.rethink.triggers == (SELF_QUESTIONING, SELF_VERIFICATION)
    assert resolved.rethink.enabled and resolved.rollout.max_new_tokens == 48, "the rest is the tiny stage-2 preset"
