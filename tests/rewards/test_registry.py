"""Reward functions: the built-ins, multiple choice, user plug-ins by file and import string, bad specs, batches."""

import sys
import time
from pathlib import Path

import pytest

from rethinker.data.schema import Example
from rethinker.rewards.registry import (
    BUILTIN_REWARDS,
    RewardSpecError,
    as_reward_result,
    get_reward_fn,
    score_batch,
)
from rethinker.rewards.types import RewardResult
from rethinker.rewards.verify import Verifier

HALF = Example(id="h", question="What fraction of the square is shaded?", answer="\\frac{1}{2}")
CHOICE = Example(id="c", question="Which is largest?", answer="C", choices=("2", "\\sqrt{5}", "\\frac{7}{3}"))

PLUGIN = """
def score(response, example):
    return {"reward": 0.5 if example.answer in response else -1.0, "note": "plug-in"}

def full(response, example, verifier):
    return 1.0 if verifier.verify(example.answer, response) else 0.0

def lenient(response, example, bonus=0.25):
    return bonus

LENGTH = 3
"""


@pytest.mark.parametrize(
    ("name", "response", "reward", "correct"),
    [
        ("accuracy", "so \\boxed{0.5}", 1.0, True),
        ("accuracy", "so \\boxed{0.4}", 0.0, False),
        ("hfrrf", "<think>half</think><answer>0.5</answer>", 1.0, True),
        ("hfrrf", "<think>half</think>\n<answer>Final Answer: \\frac{1}{2}</answer>", 1.0, True),
        ("hfrrf", "<think>half</think><answer>0.4</answer>", 0.0, False),
        ("hfrrf", "half, so \\boxed{0.5}", 0.0, True),
        ("hfrrf", "<think>half</think><answer>0.5</answer> extra", 0.0, True),
        ("r1_zero", "<think>half</think><answer>0.5</answer>", 2.0, True),
        ("r1_zero", "<think>half</think><answer>0.4</answer>", 1.0, False),
        ("r1_zero", "\\boxed{1/2}", 1.0, True),
        ("r1_zero", "nothing", 0.0, False),
    ],
)
def test_builtins(verifier: Verifier, name: str, response: str, reward: float, correct: bool) -> None:
    result = get_reward_fn(name)(response, HALF, verifier)
    assert (result.reward, result.correct) == (reward, correct)
    assert result.info["format_ok"] == (response.startswith("<think>") and not response.endswith("extra"))


def test_result_records_the_extraction(verifier: Verifier) -> None:
    result = get_reward_fn("accuracy")("Answer: 1/2", HALF, verifier)
    assert result == RewardResult(1.0, True, "1/2", "answer_line", {"format_ok": False, "guard": None})


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        ("\\boxed{C}", True),
        ("The answer is (C).", True),
        ("C. 7/3", True),
        ("\\boxed{\\frac{7}{3}}", True),
        ("The answer is 7/3", True),
        ("\\boxed{\\sqrt{5}}", False),
        ("\\boxed{B}", False),
        ("\\boxed{C or B}", False),
    ],
)
def test_multiple_choice_accepts_the_letter_or_the_option_text(
    verifier: Verifier, response: str, correct: bool
) -> None:
    assert get_reward_fn("accuracy")(response, CHOICE, verifier).correct is correct


def test_plugin_from_a_file_path(tmp_path: Path, verifier: Verifier) -> None:
    path = tmp_path / "my_reward.py"
    path.write_text(PLUGIN)
    score = get_reward_fn(f"{path}:score")
    assert score("it is \\frac{1}{2}", HALF, verifier) == RewardResult(0.5, True, None, "custom", {"note": "plug-in"})
    assert score("no idea", HALF, verifier).correct is False
    assert get_reward_fn(f"{path}:full")("0.5", HALF, verifier).reward == 1.0
    assert get_reward_fn(f"{path}:lenient")("0.5", HALF, verifier).reward == 0.25


def test_plugin_from_an_import_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verifier: Verifier) -> None:
    package = tmp_path / "team_rewards"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "strict.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert get_reward_fn("team_rewards.strict:score")("\\frac{1}{2}", HALF, verifier).reward == 0.5
    finally:
        for name in ("team_rewards", "team_rewards.strict"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("acuracy", "unknown reward 'acuracy'"),
        ("no_such_package.rewards:score", "no module named 'no_such_package.rewards'"),
        ("missing/reward.py:score", "does not exist"),
        ("rethinker.rewards.verify:no_such_function", "has no function 'no_such_function'"),
        ("rethinker.rewards.verify:DEFAULT_MAX_CHARS", "is not callable"),
        ("rethinker.rewards.verify:", "unknown reward"),
    ],
)
def test_bad_specs_fail_clearly(spec: str, message: str) -> None:
    with pytest.raises(RewardSpecError, match=message) as raised:
        get_reward_fn(spec)
    assert repr(spec) in str(raised.value)


def test_user_return_values_are_checked() -> None:
    assert as_reward_result(1, "f").correct and not as_reward_result(0.0, "f").correct
    assert as_reward_result({"reward": 1.0, "correct": False}, "f").correct is False
    with pytest.raises(ValueError, match="'reward'"):
        as_reward_result({"score": 1.0}, "f")
    with pytest.raises(TypeError):
        as_reward_result(float("nan"), "f")
    with pytest.raises(TypeError):
        as_reward_result("1", "f")


def test_score_batch_matches_one_by_one_scoring(verifier: Verifier) -> None:
    responses = ["\\boxed{0.5}", "\\boxed{2/4}", "\\boxed{1/3}", "", "\\boxed{C}", "\\boxed{\\frac{7}{3}}", "B"] * 20
    examples = [HALF, HALF, HALF, HALF, CHOICE, CHOICE, CHOICE] * 20
    for name, reward in BUILTIN_REWARDS.items():
        batch = score_batch(reward, responses, examples, verifier)
        assert batch == [reward(r, e, verifier) for r, e in zip(responses[:7], examples[:7], strict=True)] * 20, name
    assert [result.correct for result in batch[:7]] == [True, True, False, False, True, True, False]


def test_score_batch_runs_user_functions_and_checks_lengths(tmp_path: Path, verifier: Verifier) -> None:
    path = tmp_path / "r.py"
    path.write_text(PLUGIN)
    results = score_batch(get_reward_fn(f"{path}:score"), ["\\frac{1}{2}", "x"], [HALF, HALF], verifier)
    assert [result.reward for result in results] == [0.5, -1.0]
    with pytest.raises(ValueError):
        score_batch(get_reward_fn("accuracy"), ["x"], [], verifier)


@pytest.mark.parametrize(
    "response",
    [
        "<think>" * 200_000,
        "\\boxed{" * 300_000,
        "\\boxed{" + "9" * 2_000_000 + "}",
        "The answer is " + "(" * 100_000,
        "<think>x</think><answer>" + "10^" * 100_000 + "10</answer>",
    ],
)
def test_hostile_responses_score_zero_quickly(verifier: Verifier, response: str) -> None:
    for name in BUILTIN_REWARDS:
        start = time.perf_counter()
        result = get_reward_fn(name)(response, HALF, verifier)
        elapsed = time.perf_counter() - start
        assert not result.correct and result.reward <= 1.0
        assert elapsed < 1.5
