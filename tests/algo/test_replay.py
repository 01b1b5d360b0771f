"""Sample selection: SSR (paper and released variant), filter, the replay buffer, and DAPO's group accumulator."""

from collections import Counter

import pytest
import torch

from rethinker.algo.advantages import group_advantages
from rethinker.algo.replay import (
    DapoBatch,
    ReplayBuffer,
    Selection,
    dapo_accept_groups,
    effective_indices,
    released_buffer,
    select_filter,
    select_ssr,
    select_ssr_released,
)
from rethinker.rewards.registry import hfrrf_reward, r1_zero_reward


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _draw_frequencies(advantages: list[float], alpha: float, draws: int = 40_000, offset: float = 0.0) -> list[float]:
    buffer: ReplayBuffer[int] = ReplayBuffer("persistent")
    buffer.add(list(range(len(advantages))), advantages, step=0)
    counts = Counter(item for item, _ in buffer.draw(draws, alpha, _gen(3), offset))
    return [counts[i] / draws for i in range(len(advantages))]


def test_effective_indices_threshold() -> None:
    advantages = [0.0, 0.5, -0.2, 0.0, 1e-9]
    assert effective_indices(advantages) == [1, 2, 4]
    assert effective_indices(torch.tensor(advantages), eps=1e-6) == [1, 2]
    with pytest.raises(ValueError, match="finite"):
        effective_indices([float("nan")])


@pytest.mark.parametrize(
    ("alpha", "expected"),
    [(1.0, [0.1, 0.2, 0.3, 0.4]), (2.0, [1 / 30, 4 / 30, 9 / 30, 16 / 30]), (0.0, [0.25] * 4)],
)
def test_draw_frequencies_follow_priority(alpha: float, expected: list[float]) -> None:
    # 40k draws: the standard error of each frequency is below 0.0025, so 0.01 is a 4-sigma band
    assert _draw_frequencies([-0.1, 0.2, -0.3, 0.4], alpha) == pytest.approx(expected, abs=0.01)


def test_zero_advantage_is_never_drawn_unless_offset() -> None:
    assert _draw_frequencies([0.0, 0.5, 0.0, 0.5], alpha=0.0, draws=2000)[0] == 0.0
    with_offset = _draw_frequencies([0.0, 1.0], alpha=1.0, offset=0.5)
    assert with_offset[0] == pytest.approx(0.5 / 2.0, abs=0.01)


def test_draw_is_reproducible_from_seed() -> None:
    buffer: ReplayBuffer[str] = ReplayBuffer()
    buffer.add(["a", "b", "c"], [0.1, 0.5, 1.0], step=2)
    assert buffer.draw(50, 1.0, _gen(7)) == buffer.draw(50, 1.0, _gen(7))
    assert buffer.draw(50, 1.0, _gen(7)) != buffer.draw(50, 1.0, _gen(8))


def test_draw_from_empty_buffer_fails_but_zero_draws_do_not() -> None:
    buffer: ReplayBuffer[str] = ReplayBuffer()
    assert buffer.draw(0, 1.0, _gen()) == []
    with pytest.raises(ValueError, match="positive weight"):
        buffer.draw(1, 1.0, _gen())


def test_episode_buffer_clears_and_persistent_keeps() -> None:
    episode: ReplayBuffer[int] = ReplayBuffer("episode")
    persistent: ReplayBuffer[int] = ReplayBuffer("persistent")
    for buffer in (episode, persistent):
        buffer.add([1, 2], [0.5, -0.5], step=0)
        buffer.end_episode()
    assert len(episode) == 0
    assert len(persistent) == 2


def test_capacity_drops_oldest_first() -> None:
    buffer: ReplayBuffer[int] = ReplayBuffer("persistent", capacity=4)
    for step in range(5):
        buffer.add([2 * step, 2 * step + 1], [1.0, 1.0], step=step)
        assert len(buffer) <= 4
    assert buffer.state_dict()["items"] == [6, 7, 8, 9]
    assert buffer.state_dict()["steps"] == [3, 3, 4, 4]


def test_state_dict_round_trip() -> None:
    buffer: ReplayBuffer[dict[str, int]] = ReplayBuffer("persistent", capacity=10)
    buffer.add([{"id": 1}, {"id": 2}, {"id": 3}], [0.25, -1.0, 0.5], step=4)
    restored: ReplayBuffer[dict[str, int]] = ReplayBuffer("persistent", capacity=10)
    restored.load_state_dict(buffer.state_dict())
    assert restored.state_dict() == buffer.state_dict()
    assert restored.draw(20, 1.0, _gen(1)) == buffer.draw(20, 1.0, _gen(1))
    with pytest.raises(ValueError, match="lengths"):
        restored.load_state_dict({"items": [1], "advantages": [], "steps": [0]})


def test_buffer_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        ReplayBuffer("forever")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer("persistent", capacity=0)
    with pytest.raises(ValueError, match="advantages"):
        ReplayBuffer().add([1, 2], [0.5], step=0)


def test_filter_keeps_effective_only() -> None:
    selection = select_filter([0.0, 1.0, 0.0, -0.5])
    assert selection.current == [1, 3]
    assert selection.replayed == []
    assert len(selection) == 2


def test_ssr_refills_exactly_and_never_picks_zero_advantage() -> None:
    generator = _gen(5)
    buffer: ReplayBuffer[str] = ReplayBuffer("episode")
    advantage_of: dict[str, float] = {}
    for step in range(6):
        advantages = [0.0] * 6 + [0.8 * (step + 1), -0.3]
        items = [f"s{step}-{i}" for i in range(8)]
        advantage_of.update(zip(items, advantages, strict=True))
        selection = select_ssr(items, advantages, 8, buffer, 1.0, generator, step)
        assert len(selection) == 8
        assert selection.current == [6, 7]
        assert all(advantage_of[item] != 0.0 for item, _ in selection.replayed)
        assert all(birth <= step for _, birth in selection.replayed)
    assert len(buffer) == 12
    buffer.end_episode()
    assert len(buffer) == 0


def test_ssr_first_step_refills_from_current_effective_samples() -> None:
    buffer: ReplayBuffer[str] = ReplayBuffer()
    selection = select_ssr(list("abcd"), [0.0, 1.0, 0.0, 0.0], 4, buffer, 1.0, _gen(), step=3)
    assert selection.current == [1]
    assert selection.replayed == [("b", 3)] * 3
    assert selection.stats(step=3)["replay/age_mean"] == 0.0


def test_ssr_with_nothing_effective_and_empty_buffer_is_empty() -> None:
    buffer: ReplayBuffer[str] = ReplayBuffer()
    selection = select_ssr(list("abcd"), [0.0] * 4, 4, buffer, 1.0, _gen(), step=0)
    assert len(selection) == 0


def test_ssr_keeps_oversized_effective_set_whole() -> None:
    buffer: ReplayBuffer[int] = ReplayBuffer()
    selection = select_ssr(list(range(6)), [1.0, -1.0] * 3, 4, buffer, 1.0, _gen(), step=0)
    assert selection.current == list(range(6))
    assert selection.replayed == []


def test_ssr_replays_old_samples_with_their_age() -> None:
    buffer: ReplayBuffer[str] = ReplayBuffer("persistent")
    select_ssr(["old"], [1.0], 1, buffer, 1.0, _gen(), step=0)
    selection = select_ssr(["new0", "new1"], [0.0, 0.0], 2, buffer, 1.0, _gen(), step=5)
    assert selection.replayed == [("old", 0), ("old", 0)]
    stats = selection.stats(step=5)
    assert stats["replay/frac"] == 1.0
    assert stats["replay/age_mean"] == 5.0
    assert stats["replay/count"] == 2.0


def test_selection_stats_mix() -> None:
    selection: Selection[str] = Selection(current=[0, 1, 2], replayed=[("x", 1)])
    assert selection.stats(step=4) == {
        "replay/batch_size": 4.0,
        "replay/count": 1.0,
        "replay/frac": 0.25,
        "replay/age_mean": 3.0,
    }


def _released_batch() -> tuple[list[str], list[float], list[bool]]:
    """40 rollouts: 10 effective, 20 zero-advantage correct (all-correct groups), 10 zero-advantage wrong."""
    advantages = [1.0, -1.0] * 5 + [0.0] * 30
    correct = [True, False] * 5 + [True] * 20 + [False] * 10
    return [f"r{i}" for i in range(40)], advantages, correct


def test_ssr_released_follows_its_rule() -> None:
    items, advantages, correct = _released_batch()
    buffer = released_buffer(len(items))
    assert buffer.capacity == 20
    assert buffer.lifetime == "persistent"
    selection = select_ssr_released(items, advantages, correct, buffer, _gen(), step=0)
    assert len(selection) == 40, "the released active sampling keeps the episode's size"
    assert len(selection.current) == 11, "min(N // 2, 10 effective + floor(0.1 * 10) all-correct candidates)"
    assert all(i < 30 and correct[i] or advantages[i] != 0 for i in selection.current)
    assert len(selection.replayed) == 29, "the FIFO of 10 is taken whole twice, then 9 are drawn"
    replayed = Counter(item for item, _ in selection.replayed)
    assert set(replayed) <= set(items[:10]) and all(n >= 2 for n in replayed.values())
    assert len(buffer) == 10


def test_ssr_released_without_all_correct_and_with_oversized_effective_set() -> None:
    items, advantages, correct = _released_batch()
    plain = select_ssr_released(items, advantages, correct, released_buffer(40), _gen(), 0, all_correct_frac=0.0)
    assert all(advantages[i] != 0.0 for i in plain.current)
    advantages = [1.0] * 30 + [0.0] * 10
    crowded = select_ssr_released(items, advantages, [True] * 40, released_buffer(40), _gen(), 0)
    assert len(crowded.current) == 20 and len(crowded.replayed) == 20
    assert all(i < 30 for i in crowded.current)


def test_ssr_released_redraw_is_weighted_by_advantage() -> None:
    generator = _gen(9)
    counts: Counter[int] = Counter()
    for _ in range(1500):
        selection = select_ssr_released(
            ["a", "b", "c", "d"],
            [3.0, -1.0, 0.0, 0.0],
            [True, False, True, True],
            ReplayBuffer("persistent", capacity=2),
            generator,
            0,
            all_correct_frac=0.0,
        )
        counts.update(selection.current)
    # 3000 draws: standard error about 0.008, so 0.03 is a 4-sigma band
    assert counts[0] / 3000 == pytest.approx(0.75, abs=0.03)


def test_ssr_released_draws_all_correct_samples_by_the_offset_rarely_not_never() -> None:
    """Candidates weigh |A| + 1e-4: an all-correct sample (A = 0) against one effective sample with |A| = 1e-4 is
    drawn with probability 1e-4 / (2e-4 + 1e-4) = 1/3, not always included and not never."""
    generator = _gen(3)
    drawn = 0
    for _ in range(1500):
        selection = select_ssr_released(
            [f"s{i}" for i in range(4)],
            [1e-4, 0.0, 0.0, 0.0],
            [True, True, True, True],
            ReplayBuffer("persistent", capacity=2),
            generator,
            0,
            all_correct_frac=1.0,
        )
        assert len(selection.current) == 2
        drawn += sum(i != 0 for i in selection.current)
    # 3000 draws: standard error about 0.009, so 0.035 is a 4-sigma band
    assert drawn / 3000 == pytest.approx(1 / 3, abs=0.035)


def test_ssr_released_fifo_persists_and_keeps_half_the_first_episode() -> None:
    buffer = released_buffer(8)
    for step in range(3):
        items = [f"{step}-{i}" for i in range(8)]
        selection = select_ssr_released(
            items, [0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [False] * 8, buffer, _gen(step), step
        )
        buffer.end_episode()
        assert len(selection) == 8
        assert len(selection.current) == 2
    assert buffer.state_dict()["items"] == ["1-0", "1-1", "2-0", "2-1"]


def test_dapo_accepts_mixed_groups_only() -> None:
    rewards = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0], dtype=torch.float32)
    assert dapo_accept_groups(rewards, 4) == [2, 3]


@pytest.mark.parametrize("reward", [hfrrf_reward, r1_zero_reward])
def test_dapo_keeps_exactly_the_groups_whose_format_aware_rewards_differ(reward) -> None:
    """Under HFRRF or r1_zero, correctness is not the signal: a group that is all correct but formatted unevenly has
    an advantage, and a group that is half correct but never formatted may have none."""
    groups = [
        [(True, True), (False, True), (True, True), (False, True)],  # all correct, format mixed
        [(False, True), (False, False), (False, True), (False, False)],  # mixed correctness, never formatted
        [(True, True), (True, False), (True, True), (True, False)],  # mixed correctness, always formatted
        [(True, False)] * 4,  # all wrong, all formatted
    ]
    rewards = torch.tensor([reward(format_ok, correct) for group in groups for format_ok, correct in group])
    with_signal = torch.nonzero(group_advantages(rewards, 4, "std").reshape(-1, 4).abs().sum(dim=1) > 0)
    kept = dapo_accept_groups(rewards, 4)
    assert kept == with_signal.reshape(-1).tolist()
    assert kept == ([0, 2] if reward is hfrrf_reward else [0, 1, 2])


def test_dapo_batch_stops_at_round_bound() -> None:
    batch: DapoBatch[str] = DapoBatch(target_groups=5, max_rounds=3)
    batch.add_round(["a", "b"])
    batch.add_round([])
    assert not batch.done
    batch.add_round(["c"])
    assert batch.done
    assert not batch.filled
    assert batch.rounds_used == 3
    assert batch.groups == ["a", "b", "c"]
    with pytest.raises(RuntimeError):
        batch.add_round(["d"])


def test_dapo_batch_stops_when_filled_and_trims_extra_groups() -> None:
    batch: DapoBatch[int] = DapoBatch(target_groups=3, max_rounds=10)
    batch.add_round([1, 2])
    batch.add_round([3, 4, 5])
    assert batch.done
    assert batch.filled
    assert batch.rounds_used == 2
    assert batch.groups == [1, 2, 3]
