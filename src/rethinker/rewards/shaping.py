"""The released VL-Rethinker reward shaping (a named switch, SPEC section 4); plain 0/1 correctness is the default.

It pays a little extra for correct answers that rethink on their own once or twice, penalises long chains of "wait"s,
and gives invalid responses (no end of sequence, more than five "wait"s) a small negative reward.
"""

from __future__ import annotations

INVALID_REWARD = -0.1
MAX_VALID_WAITS = 5
SPONTANEOUS_BONUS_REWARD = 1.1
MAX_REWARDED_WAITS = 2
PENALTY_PER_WAIT = 0.2


def shaped_reward(correct: bool, ended_with_eos: bool, wait_count: int, forced: bool) -> float:
    """Reward of one response under the released shaping rule.

    -0.1 if invalid (no EOS, or more than 5 "wait"s in the response as trained); else 0.0 if wrong; else 1.0 for a
    forced rethink. A correct un-forced response gets 1.0 with no "wait", 1.1 with 1 or 2, and max(1 - 0.2 n, -0.1)
    with n >= 3.
    """
    if wait_count < 0:
        raise ValueError(f"wait_count must be non-negative, got {wait_count}")
    if not ended_with_eos or wait_count > MAX_VALID_WAITS:
        return INVALID_REWARD
    if not correct:
        return 0.0
    if forced or wait_count == 0:
        return 1.0
    if wait_count <= MAX_REWARDED_WAITS:
        return SPONTANEOUS_BONUS_REWARD
    return max(1.0 - PENALTY_PER_WAIT * wait_count, INVALID_REWARD)
