"""Reward functions by name: built-ins (`accuracy`, `hfrrf`, `r1_zero`) or a user's function from a module or file.

A reward function is `(response, example, verifier) -> RewardResult`. A user function may be the simpler
`score(response, example) -> float | dict` (a dict holds "reward" and optionally "correct" and "extracted"); without
"correct", a response counts as correct when its reward is positive. A user function with three required positional
arguments is called as `(response, example, verifier)` and may also return a RewardResult. Built-ins are scored in two
pure steps around the verifier (plan, then finish), so `score_batch` sends a batch's checks to `verify_many` at once.

Built-ins share extraction, guards and verification. A guard that fires makes the answer wrong (accuracy 0); for
`r1_zero` the format reward still counts, so a well-formatted hedge scores 1.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.rewards.extract import Extraction, extract_answer
from rethinker.rewards.format import has_think_answer_format
from rethinker.rewards.guards import triggered_guard
from rethinker.rewards.types import RewardResult
from rethinker.rewards.verify import Verifier, canonical, gold_letter, leading_letter, prepare

RewardFn: TypeAlias = Callable[[str, Example, Verifier], RewardResult]


class RewardSpecError(UserError):
    """A reward spec that names no built-in, or a module, file or function that cannot be found."""


@dataclass(frozen=True)
class Plan:
    """What a built-in reward knows before verification: the extraction, format, guard and (gold, pred) checks.

    The answer is correct when no guard fired and any of `checks` verifies.
    """

    extraction: Extraction
    format_ok: bool
    guard: str | None
    checks: tuple[tuple[str, str], ...]


def answer_checks(answer: str, example: Example) -> tuple[tuple[str, str], ...]:
    """The (gold, pred) checks for an answer; a multiple-choice answer may give the option letter or its text."""
    letter = gold_letter(prepare(example.answer))
    if letter is None or not example.choices:
        return ((example.answer, answer),)
    texts = [canonical(choice) for choice in example.choices]
    if canonical(answer) in texts:
        return ((example.answer, chr(ord("A") + texts.index(canonical(answer)))),)
    index = ord(letter) - ord("A")
    if leading_letter(answer) is not None or index >= len(example.choices):
        return ((example.answer, answer),)
    return ((example.choices[index], answer),)


def plan_reward(response: str, example: Example) -> Plan:
    """Extract, check the format and the guards, and list the checks to verify for one response."""
    extraction = extract_answer(response)
    guard = triggered_guard(response, extraction.answer, example)
    checks = answer_checks(extraction.answer, example) if guard is None and extraction.answer is not None else ()
    return Plan(extraction, has_think_answer_format(response), guard, checks)


def accuracy_reward(format_ok: bool, correct: bool) -> float:
    """1 for a correct answer, else 0; the format is ignored."""
    return float(correct)


def hfrrf_reward(format_ok: bool, correct: bool) -> float:
    """Vision-R1's hard formatting result reward: 1 only when the format holds and the answer is correct."""
    return float(format_ok and correct)


def r1_zero_reward(format_ok: bool, correct: bool) -> float:
    """Vision-R1-Zero: format reward plus accuracy reward, 1:1, so 0, 1 or 2."""
    return float(format_ok) + float(correct)


@dataclass(frozen=True)
class BuiltinReward:
    """A built-in reward: shared extraction, guards and verification, combined into a reward by `combine`."""

    name: str
    combine: Callable[[bool, bool], float]

    def finish(self, plan: Plan, verdicts: Sequence[bool]) -> RewardResult:
        """The result of a plan given the verifier's verdicts on its checks."""
        correct = plan.guard is None and any(verdicts)
        info = {"format_ok": plan.format_ok, "guard": plan.guard}
        extraction = plan.extraction
        return RewardResult(self.combine(plan.format_ok, correct), correct, extraction.answer, extraction.rule, info)

    def __call__(self, response: str, example: Example, verifier: Verifier) -> RewardResult:
        plan = plan_reward(response, example)
        return self.finish(plan, verifier.verify_many(plan.checks))


BUILTIN_REWARDS: dict[str, BuiltinReward] = {
    reward.name: reward
    for reward in (
        BuiltinReward("accuracy", accuracy_reward),
        BuiltinReward("hfrrf", hfrrf_reward),
        BuiltinReward("r1_zero", r1_zero_reward),
    )
}


class RewardValueError(UserError, TypeError):
    """A user's reward function returned no finite reward; the message names the function and the sample."""


def as_reward_result(value: Any, spec: str, sample: str = "") -> RewardResult:
    """A user function's return value (a RewardResult, a number, or a dict with "reward") as a RewardResult.

    The reward must be a finite number, also inside a RewardResult; `sample` names the scored sample in errors.
    """
    if isinstance(value, RewardResult):
        raw = value.reward
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise RewardValueError(
                f"reward {spec!r} returned a RewardResult with reward {raw!r}{sample}; expected a finite number"
            )
        return value
    fields = dict(value) if isinstance(value, dict) else {"reward": value}
    if "reward" not in fields:
        raise RewardValueError(f"reward {spec!r} returned a dict without a 'reward' key{sample}: {sorted(fields)}")
    raw = fields.pop("reward")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise RewardValueError(f"reward {spec!r} returned reward {raw!r}{sample}; expected a finite number")
    correct = bool(fields.pop("correct", raw > 0))
    extracted = fields.pop("extracted", None)
    return RewardResult(float(raw), correct, None if extracted is None else str(extracted), "custom", fields)


@dataclass(frozen=True)
class UserReward:
    """A user's reward function wrapped to the reward-function signature."""

    spec: str
    function: Callable[..., Any]
    takes_verifier: bool

    def __call__(self, response: str, example: Example, verifier: Verifier) -> RewardResult:
        arguments = (response, example, verifier) if self.takes_verifier else (response, example)
        sample = f" for example {example.id!r} (response {response[:40]!r})"
        return as_reward_result(self.function(*arguments), self.spec, sample)


def _required_positionals(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional and p.default is inspect.Parameter.empty for p in parameters)


def _load_file(target: str, spec: str) -> ModuleType:
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise RewardSpecError(f"reward spec {spec!r}: file {path} does not exist")
    name = "rethinker_user_reward_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise RewardSpecError(f"reward spec {spec!r}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as error:
        raise RewardSpecError(f"reward spec {spec!r}: {path} line {error.lineno}: {error.msg}") from error
    return module


def _import(target: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        if error.name and (target == error.name or target.startswith(error.name + ".")):
            raise RewardSpecError(f"reward spec {spec!r}: no module named {target!r}") from error
        raise


def get_reward_fn(spec: str) -> RewardFn:
    """The reward function for a built-in name, `package.module:function`, or `path/to/file.py:function`."""
    if spec in BUILTIN_REWARDS:
        return BUILTIN_REWARDS[spec]
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise RewardSpecError(
            f"unknown reward {spec!r}: use one of {sorted(BUILTIN_REWARDS)}, "
            "'package.module:function' or 'path/to/file.py:function'"
        )
    is_path = target.endswith(".py") or "/" in target or os.sep in target
    module = _load_file(target, spec) if is_path else _import(target, spec)
    function = getattr(module, name, None)
    if function is None:
        raise RewardSpecError(f"reward spec {spec!r}: {target} has no function {name!r}")
    if not callable(function):
        raise RewardSpecError(f"reward spec {spec!r}: {target}:{name} is not callable")
    return UserReward(spec, function, _required_positionals(function) >= 3)


def score_batch(
    fn: RewardFn, responses: Sequence[str], examples: Sequence[Example], verifier: Verifier
) -> list[RewardResult]:
    """Score responses against their examples; built-ins verify the whole batch in parallel in one call."""
    if len(responses) != len(examples):
        raise ValueError(f"{len(responses)} responses for {len(examples)} examples")
    if not isinstance(fn, BuiltinReward):
        return [fn(response, example, verifier) for response, example in zip(responses, examples, strict=True)]
    plans = [plan_reward(response, example) for response, example in zip(responses, examples, strict=True)]
    verdicts = verifier.verify_many([check for plan in plans for check in plan.checks])
    results: list[RewardResult] = []
    start = 0
    for plan in plans:
        results.append(fn.finish(plan, verdicts[start : start + len(plan.checks)]))
        start += len(plan.checks)
    return results
