"""Tests for the released reward shaping rule: the whole table of cases."""

import pytest

from rethinker.rewards.shaping import shaped_reward


@pytest.mark.parametrize(
    ("correct", "ended_with_eos", "wait_count", "forced", "expected"),
    [
        (True, True, 0, False, 1.0),
        (False, True, 0, False, 0.0),
        (False, True, 2, False, 0.0),
        (True, False, 0, False, -0.1),  # truncated
        (False, False, 0, True, -0.1),
        (True, True, 6, False, -0.1),  # more than five waits is invalid
        (True, True, 6, True, -0.1),
        (True, True, 1, False, 1.1),  # spontaneous rethinking earns a bonus
        (True, True, 2, False, 1.1),
        (True, True, 3, False, 0.4),  # but long chains of waits are penalised
        (True, True, 4, False, 0.2),
        (True, True, 5, False, 0.0),
        (True, True, 1, True, 1.0),  # a forced rethink gets no bonus
        (True, True, 5, True, 1.0),
    ],
)
def test_shaping_table(correct: bool, ended_with_eos: bool, wait_count: int, forced: bool, expected: float) -> None:
    assert shaped_reward(correct, ended_with_eos, wait_count, forced) == pytest.approx(expected)


def test_negative_wait_count_is_an_error() -> None:
    with pytest.raises(ValueError):
        shaped_reward(True, True, -1, False)
