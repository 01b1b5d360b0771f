"""Symbolic planning: a plan scores 1 when every action's preconditions hold as it is applied, from the task's initial
state under the domain's STRIPS actions, and the final state meets the goal; otherwise 0.

Domain and task are PDDL texts from the query's eval context (`domain_pddl`, `task_pddl`); the plan is the lines of the
response that start with "(", such as `(stack a b)`. Everything is read case-insensitively; parameter types are
ignored (as officially); negative preconditions and goals (`(not ...)`) are checked (officially they never fail).
Sizes are bounded: PDDL texts of more than `MAX_PDDL_CHARS` characters or plans of more than `MAX_PLAN_STEPS` actions
score 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rethinker.eval.suites.megabench.metrics.strings import as_text

MAX_PLAN_STEPS = 1_000
MAX_PDDL_CHARS = 200_000
_TOKEN = re.compile(r"[()]|[^\s()]+")

Expression = str | list["Expression"]
Fact = tuple[str, ...]


class PlanningError(ValueError):
    """A PDDL text or plan step that cannot be read."""


def parse_expressions(text: str) -> list[Expression]:
    """The s-expressions of a PDDL text (comments after ";" dropped), as nested lists of lower-cased atoms."""
    if len(text) > MAX_PDDL_CHARS:
        raise PlanningError("PDDL text too long")
    tokens = _TOKEN.findall(re.sub(r";[^\n]*", "", text).lower())
    stack: list[list[Expression]] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise PlanningError("unbalanced ')'")
            closed = stack.pop()
            stack[-1].append(closed)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise PlanningError("unbalanced '('")
    return stack[0]


def _section(expression: Sequence[Expression], key: str) -> Expression | None:
    """The value after `key` in a flat keyword list such as `(:action a :parameters (...) :effect (...))`."""
    for index, item in enumerate(expression[:-1]):
        if item == key:
            return expression[index + 1]
    return None


def literals(expression: Expression | None) -> list[tuple[bool, Fact]]:
    """A condition as (positive?, fact) literals: one literal, `(not literal)`, or an `(and ...)` of them."""
    if expression is None or expression == []:
        return []
    if not isinstance(expression, list) or not expression:
        raise PlanningError(f"not a condition: {expression!r}")
    if expression[0] == "and":
        return [literal for part in expression[1:] for literal in literals(part)]
    if expression[0] == "not" and len(expression) == 2 and isinstance(expression[1], list):
        return [(False, _fact(expression[1]))]
    return [(True, _fact(expression))]


def _fact(expression: Expression) -> Fact:
    if not isinstance(expression, list) or not all(isinstance(atom, str) for atom in expression):
        raise PlanningError(f"not a fact: {expression!r}")
    return tuple(expression)


@dataclass(frozen=True)
class Action:
    """A STRIPS action: parameter names, precondition literals and effect literals over those parameters."""

    parameters: tuple[str, ...]
    preconditions: tuple[tuple[bool, Fact], ...]
    effects: tuple[tuple[bool, Fact], ...]


def domain_actions(domain_pddl: str) -> dict[str, Action]:
    """The actions of a PDDL domain by name (types in parameter lists are skipped)."""
    actions = {}
    for definition in parse_expressions(domain_pddl):
        for item in definition if isinstance(definition, list) else []:
            if isinstance(item, list) and item[:1] == [":action"] and len(item) > 1:
                parameters = _section(item, ":parameters") or []
                names = tuple(atom for atom in parameters if isinstance(atom, str) and atom.startswith("?"))
                preconditions = tuple(literals(_section(item, ":precondition")))
                actions[str(item[1])] = Action(names, preconditions, tuple(literals(_section(item, ":effect"))))
    return actions


def task_state_and_goal(task_pddl: str) -> tuple[set[Fact], list[tuple[bool, Fact]]]:
    """The initial facts and the goal literals of a PDDL problem."""
    for definition in parse_expressions(task_pddl):
        if not isinstance(definition, list):
            continue
        sections = {item[0]: item[1:] for item in definition if isinstance(item, list) and item}
        if ":init" in sections and ":goal" in sections:
            initial = {_fact(fact) for fact in sections[":init"]}
            goal = sections[":goal"]
            return initial, literals(goal[0] if len(goal) == 1 else ["and", *goal])
    raise PlanningError("the task has no :init and :goal")


def _holds(state: set[Fact], condition: Sequence[tuple[bool, Fact]], binding: Mapping[str, str]) -> bool:
    return all((tuple(binding.get(atom, atom) for atom in fact) in state) == positive for positive, fact in condition)


def plan_steps(response: Any) -> list[Fact]:
    """The plan's actions: the bracketed expressions of each response line (or list item) that starts with "("."""
    lines = response if isinstance(response, list | tuple) else as_text(response).split("\n")
    steps = [as_text(line).strip() for line in lines if as_text(line).strip().startswith("(")]
    if len(steps) > MAX_PLAN_STEPS:
        raise PlanningError("plan too long")
    return [
        _fact(expression) for step in steps for expression in parse_expressions(step) if isinstance(expression, list)
    ]


def symbolic_planning_test(response: Any, context: Mapping[str, Any]) -> float:
    """1 when the plan is executable from the initial state and reaches the goal, else 0."""
    try:
        actions = domain_actions(as_text(context.get("domain_pddl", "")))
        state, goal = task_state_and_goal(as_text(context.get("task_pddl", "")))
        for name, *objects in plan_steps(response):
            action = actions.get(name)
            if action is None or len(objects) != len(action.parameters):
                return 0.0
            binding = dict(zip(action.parameters, objects, strict=True))
            if not _holds(state, action.preconditions, binding):
                return 0.0
            bound = [(positive, tuple(binding.get(atom, atom) for atom in fact)) for positive, fact in action.effects]
            state -= {fact for positive, fact in bound if not positive}
            state |= {fact for positive, fact in bound if positive}
    except PlanningError:
        return 0.0
    return float(_holds(state, goal, {}))
