"""Recipe switches in the trainer: held-out length follows the PTST stage, DAPO keeps groups whose rewards differ, and
pi_old is recomputed by the trainer (the gap to the engine's log-probs is logged) unless rollout.old_logprobs=engine."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from rethinker.config import RLConfig, RolloutConfig
from rethinker.train.grpo import GRPOTrainer

FORMAT_REWARD = str(Path(__file__).parent / "format_reward.py")
STAND_IN = Path(__file__).parents[1] / "rollout" / "test_vllm_engine.py"


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_held_out_evaluation_generates_with_the_current_stage_length(tmp_path: Path, tiny_config) -> None:
    stages = "stages=[{steps: 1, max_new_tokens: 4, group_size: 4}, {steps: 1, max_new_tokens: 9, group_size: 2}]"
    config = tiny_config(tmp_path, stages, "rollout.max_new_tokens=3", "eval.at_start=true", "eval.every=1")
    GRPOTrainer(config).fit()
    rows = _rows(tmp_path)
    assert [row["eval/max_new_tokens"] for row in rows] == [4.0, 9.0, 9.0]
    assert rows[-1]["eval/len_mean"] > 3, "a greedy random model runs to the limit: answers longer than rollout's 3"


def test_eval_max_new_tokens_overrides_the_stage(tmp_path: Path, tiny_config) -> None:
    stages = "stages=[{steps: 1, max_new_tokens: 4, group_size: 4}, {steps: 1, max_new_tokens: 9, group_size: 2}]"
    config = tiny_config(tmp_path, stages, "eval.max_new_tokens=5", "eval.at_start=true", "eval.every=2")
    GRPOTrainer(config).fit()
    assert [row["eval/max_new_tokens"] for row in _rows(tmp_path) if "eval/acc" in row] == [5.0, 5.0]


@pytest.mark.parametrize("function", ["format_decides", "unformatted"])
def test_dapo_trains_the_groups_whose_format_aware_rewards_differ(tmp_path: Path, tiny_config, function) -> None:
    config = tiny_config(
        tmp_path,
        f"reward.fn={FORMAT_REWARD}:{function}",
        "replay.mode=dapo",
        "replay.dapo_max_rounds=2",
        "train.steps=1",
    )
    GRPOTrainer(config).fit()
    row = _rows(tmp_path)[-1]
    if function == "format_decides":
        assert row["batch/size"] > 0 and row["batch/effective_frac"] == 1.0, "all-correct groups with signal kept"
    else:
        assert row["batch/size"] == 0.0 and row["dapo/filled"] == 0.0, "mixed-correctness groups with no signal dropped"


def _load_stand_in() -> types.ModuleType:
    """The in-test stand-in for the `vllm` module that tests/rollout uses, loaded from its file."""
    if "vllm_stand_in" not in sys.modules:
        spec = importlib.util.spec_from_file_location("vllm_stand_in", STAND_IN)
        sys.modules["vllm_stand_in"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["vllm_stand_in"])
    return sys.modules["vllm_stand_in"]


@pytest.fixture
def stand_in_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = _load_stand_in()
    module = types.ModuleType("vllm")
    module.LLM = stand_in.FakeLLM
    module.SamplingParams = stand_in.FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    for key in stand_in.LAUNCHER_KEYS:
        monkeypatch.delenv(key, raising=False)


def test_old_logprobs_of_another_engine_are_recomputed_by_default_and_their_gap_is_logged(
    tmp_path: Path, tiny_config, stand_in_vllm
) -> None:
    assert RLConfig().rollout.old_logprobs == "auto"
    assert RolloutConfig(engine="vllm").recomputes_old_logprobs("float32")
    assert RolloutConfig(engine="hf").recomputes_old_logprobs("bfloat16")
    GRPOTrainer(tiny_config(tmp_path / "recompute", "rollout.engine=vllm", "train.steps=1")).fit()
    row = _rows(tmp_path / "recompute")[-1]
    assert row["rollout/logprob_gap_mean"] > 0.5 and row["rollout/logprob_gap_max"] >= row["rollout/logprob_gap_mean"]
    assert row["policy/ratio_mean"] == pytest.approx(1.0, abs=1e-4), "pi_old is the trainer's own: ratio 1 at first"

    engine = tiny_config(tmp_path / "engine", "rollout.engine=vllm", "rollout.old_logprobs=engine", "train.steps=1")
    GRPOTrainer(engine).fit()
    row = _rows(tmp_path / "engine")[-1]
    assert "rollout/logprob_gap_mean" not in row
    assert abs(row["policy/ratio_mean"] - 1.0) > 0.1, "the stand-in's made-up log-probs serve as pi_old"


def test_the_trainers_own_float32_engine_needs_no_recompute_its_log_probs_match(tmp_path: Path, tiny_config) -> None:
    GRPOTrainer(tiny_config(tmp_path / "auto", "train.steps=1")).fit()
    assert "rollout/logprob_gap_mean" not in _rows(tmp_path / "auto")[-1]
    GRPOTrainer(tiny_config(tmp_path / "forced", "rollout.old_logprobs=recompute", "train.steps=1")).fit()
    row = _rows(tmp_path / "forced")[-1]
    assert row["rollout/logprob_gap_max"] < 1e-4, "the HF engine's sampled log-probs are the forward pass's"
