"""pass@k and maj@k arithmetic on hand-made inputs."""

from __future__ import annotations

from itertools import combinations

import pytest

from rethinker.eval.passk import maj_correct, majority_index, pass_at_k, report_ks, sampling_rows


def brute_force_pass_at_k(flags: list[bool], k: int) -> float:
    """Share of all k-subsets of the responses that hold at least one correct response."""
    subsets = list(combinations(flags, k))
    return sum(any(subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_pass_at_k_equals_the_share_of_subsets_with_a_correct_response(n: int) -> None:
    for correct in range(n + 1):
        flags = [True] * correct + [False] * (n - correct)
        for k in range(1, n + 1):
            assert pass_at_k(n, correct, k) == pytest.approx(brute_force_pass_at_k(flags, k))


def test_pass_at_one_is_the_mean_and_pass_at_n_is_any() -> None:
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 0, 4) == 0.0


@pytest.mark.parametrize(("n", "correct", "k"), [(4, 1, 0), (4, 1, 5), (4, 5, 1), (4, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n: int, correct: int, k: int) -> None:
    with pytest.raises(ValueError, match="need 0 < k <= n"):
        pass_at_k(n, correct, k)


def test_majority_takes_the_most_frequent_answer_and_the_earliest_on_ties() -> None:
    assert majority_index(["3", "4", "4", "3", "4"]) == 1
    assert majority_index(["b", "a", "a", "b"]) == 0
    assert majority_index([" 5", "6", "5 "]) == 0
    assert majority_index([None, "", "7"]) == 2
    assert majority_index([None, "", "  "]) is None


def test_maj_is_right_only_when_the_winning_answer_is_right() -> None:
    assert maj_correct([("3", 0.0), ("4", 1.0), ("4", 1.0)])
    assert not maj_correct([("3", 0.0), ("3", 0.0), ("4", 1.0)])
    assert not maj_correct([(None, 0.0), ("", 0.0)])


def test_report_ks_are_powers_of_two_and_the_sample_count() -> None:
    assert report_ks(1) == [1]
    assert report_ks(6) == [1, 2, 4, 6]
    assert report_ks(8) == [1, 2, 4, 8]


def test_sampling_rows_average_over_problems_and_count_missing_responses_wrong() -> None:
    problems = [
        [("1", 1.0), ("2", 0.0)],
        [("5", 0.0), ("5", 0.0)],
        [("9", 1.0), ("9", 1.0)],
        [],
    ]
    rows = sampling_rows(problems, samples=2)
    assert list(rows) == ["pass@1", "pass@2", "maj@2"]
    assert rows["pass@1"] == {"accuracy": pytest.approx((0.5 + 0 + 1 + 0) / 4 * 100), "total": 4}
    assert rows["pass@2"]["accuracy"] == pytest.approx(50.0)
    assert rows["maj@2"]["accuracy"] == pytest.approx(50.0)
