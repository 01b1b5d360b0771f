from __future__ import annotations

import random
import re

import pytest

from rethinker.data.synthetic import FAMILIES, make_synthetic, worked_solution
from rethinker.data.teacher import Teacher, answer_from_counts, as_taught, perceived_counts


def boxed(text: str) -> str:
    return re.findall(r"\\boxed\{([^}]*)\}", text)[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_answer_from_true_counts_is_the_gold_answer(family: str) -> None:
    for example in make_synthetic(30, seed=1, families=(family,)):
        meta = example.metadata
        assert answer_from_counts(family, meta["counts"], meta["asked"]) == example.answer


def test_teacher_undercounts_only_crowded_colours_at_its_rate() -> None:
    teacher, rng = Teacher(miscount_from=5, miscount_prob=0.75), random.Random(0)
    crowded = [perceived_counts({"red": 7, "blue": 2}, teacher, rng) for _ in range(2000)]
    assert all(seen["blue"] == 2 and seen["red"] in (6, 7) for seen in crowded)
    assert 0.72 < sum(seen["red"] == 6 for seen in crowded) / len(crowded) < 0.78


def test_exact_teacher_keeps_the_solution_stream_unchanged() -> None:
    examples = make_synthetic(40, seed=3)
    plain = [worked_solution(e, random.Random(5), 0.5) for e in examples]
    assert plain == [worked_solution(e, random.Random(5), 0.5, Teacher()) for e in examples]
    assert all(boxed(text) == e.answer for text, e in zip(plain, examples, strict=True))


def test_imperfect_teacher_is_wrong_exactly_on_crowded_items() -> None:
    teacher, rng = Teacher(miscount_from=5, miscount_prob=1.0), random.Random(0)
    examples = make_synthetic(200, seed=2, families=("count",))
    for example in examples:
        answer = boxed(worked_solution(example, rng, teacher=teacher))
        total = int(example.answer)
        assert answer == (str(total - 1) if total >= 5 else example.answer)
    taught = as_taught(examples[0], Teacher(miscount_from=1, miscount_prob=1.0), rng)
    assert taught.metadata["counts"] != examples[0].metadata["counts"] and taught.answer != examples[0].answer


def last_boxed(text: str) -> str:
    return re.findall(r"\\boxed\{([^}]*)\}", text)[-1]


def test_recheck_after_a_miscount_finds_the_true_count_at_the_teachers_rate() -> None:
    teacher, rng = Teacher(miscount_from=5, miscount_prob=1.0, recheck_fix_prob=0.5), random.Random(0)
    crowded = [e for e in make_synthetic(400, seed=4, families=("count",)) if int(e.answer) >= 5]
    solutions = [(worked_solution(e, rng, recheck_prob=1.0, teacher=teacher), e.answer) for e in crowded]
    fixed = [text for text, gold in solutions if last_boxed(text) == gold]
    assert all(boxed(text) != gold for text, gold in solutions)
    assert 0.4 < len(fixed) / len(solutions) < 0.6
    assert all("again" not in text.split("\n\n")[1] for text in fixed)


def test_recheck_never_changes_a_right_count() -> None:
    teacher, rng = Teacher(miscount_from=5, miscount_prob=0.75, recheck_fix_prob=1.0), random.Random(1)
    for example in make_synthetic(300, seed=5, families=("count", "sum_count")):
        text = worked_solution(example, rng, recheck_prob=1.0, teacher=teacher)
        if boxed(text) == example.answer:
            assert last_boxed(text) == example.answer and "again" in text


def test_a_teacher_erring_either_way_is_one_short_or_one_over_at_equal_odds() -> None:
    teacher, rng = Teacher(miscount_from=5, miscount_prob=1.0, miscount_direction="either"), random.Random(0)
    seen = [perceived_counts({"red": 7, "blue": 2}, teacher, rng) for _ in range(2000)]
    assert all(counts["blue"] == 2 and counts["red"] in (6, 8) for counts in seen)
    assert 0.45 < sum(counts["red"] == 8 for counts in seen) / len(seen) < 0.55


def recounts(text: str) -> list[str]:
    return re.findall(r"I count (\d+) dots?", text.split("\n\n")[1])


def test_a_voting_recheck_counts_afresh_and_a_third_count_settles_a_disagreement() -> None:
    teacher = Teacher(miscount_from=5, miscount_prob=0.5, miscount_direction="either", recheck_style="vote")
    rng = random.Random(0)
    crowded = [e for e in make_synthetic(1500, seed=6, families=("count",)) if int(e.answer) >= 5]
    first_right = final_right = 0
    for example in crowded:
        text = worked_solution(example, rng, recheck_prob=1.0, teacher=teacher)
        first, counts = boxed(text), recounts(text)
        if len(counts) == 1:
            assert counts[0] == first == last_boxed(text) and "again" in text
        else:
            assert len(counts) == 2 and counts[0] != first and last_boxed(text) == counts[1]
        first_right += first == example.answer
        final_right += last_boxed(text) == example.answer
    assert 0.45 < first_right / len(crowded) < 0.55, "the first count is right half the time"
    assert 0.53 < final_right / len(crowded) < 0.60, "the majority of three: 1/4 + 5/8 * 1/2 = 0.5625"


def test_an_exact_teacher_voting_only_confirms() -> None:
    teacher, rng = Teacher(recheck_style="vote"), random.Random(2)
    for example in make_synthetic(100, seed=7, families=("count", "compare")):
        text = worked_solution(example, rng, recheck_prob=1.0, teacher=teacher)
        assert boxed(text) == last_boxed(text) == example.answer and "again" in text
