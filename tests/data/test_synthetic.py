from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from PIL import Image

from rethinker.data.schema import Example
from rethinker.data.synthetic import (
    BACKGROUND,
    FAMILIES,
    PALETTE,
    make_synthetic,
    synthetic_corpus,
    worked_solution,
)


def count_blobs(image: Image.Image) -> dict[str, int]:
    """Connected regions of each palette colour, found from the pixels alone."""
    width, height = image.size
    pixels = image.load()
    names = {rgb: name for name, rgb in PALETTE.items()}
    seen: set[tuple[int, int]] = set()
    blobs: Counter[str] = Counter()
    for start_x in range(width):
        for start_y in range(height):
            color = pixels[start_x, start_y]
            if (start_x, start_y) in seen or color not in names:
                continue
            blobs[names[color]] += 1
            stack = [(start_x, start_y)]
            seen.add((start_x, start_y))
            while stack:
                x, y = stack.pop()
                for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                    if 0 <= nx < width and 0 <= ny < height and (nx, ny) not in seen and pixels[nx, ny] == color:
                        seen.add((nx, ny))
                        stack.append((nx, ny))
    return dict(blobs)


def answer_from_counts(example: Example, counts: dict[str, int]) -> str:
    """The gold answer recomputed from counted colours and the question text."""
    question = example.question.split("\n")[0]
    family = example.metadata["family"]
    if family == "count":
        return str(sum(counts.values()))
    if family == "count_color":
        return str(counts[re.fullmatch(r"How many (\w+) dots are there\?", question).group(1)])
    if family == "sum_count":
        first, second = re.fullmatch(r"How many (\w+) and (\w+) dots are there in total\?", question).groups()
        return str(counts[first] + counts[second])
    best = max(example.choices, key=lambda color: counts.get(color, 0))
    return "ABCDE"[example.choices.index(best)]


def item_key(example: Example) -> tuple[str, bytes]:
    return example.question, example.images[0].tobytes()


def test_gold_answers_match_what_is_drawn() -> None:
    examples = make_synthetic(40, seed=3, split="train") + make_synthetic(20, seed=3, split="eval")
    assert {example.metadata["family"] for example in examples} == set(FAMILIES)
    for example in examples:
        counts = count_blobs(example.images[0])
        assert counts == example.metadata["counts"], example.id
        assert answer_from_counts(example, counts) == example.answer, example.id


def test_same_seed_gives_identical_items_and_other_seeds_differ() -> None:
    first, second = make_synthetic(25, seed=11), make_synthetic(25, seed=11)
    assert [(e.id, e.question, e.answer, e.choices) for e in first] == [
        (e.id, e.question, e.answer, e.choices) for e in second
    ]
    assert [e.images[0].tobytes() for e in first] == [e.images[0].tobytes() for e in second]
    other = make_synthetic(25, seed=12)
    assert sum(item_key(a) == item_key(b) for a, b in zip(first, other, strict=True)) < 3


@pytest.mark.parametrize(("train_seed", "eval_seed"), [(0, 0), (5, 2)])
def test_train_and_eval_never_share_an_item(train_seed: int, eval_seed: int) -> None:
    small_space = {"families": ("count",), "difficulty": 1, "image_size": 56}
    train = [item_key(e) for e in make_synthetic(1500, seed=train_seed, split="train", **small_space)]
    evaluation = [item_key(e) for e in make_synthetic(1500, seed=eval_seed, split="eval", **small_space)]
    assert len(set(train)) < len(train), "the item space is small enough that independent draws repeat"
    assert set(train).isdisjoint(evaluation)


def test_images_are_small_on_the_processor_mean_background() -> None:
    for example in make_synthetic(10, seed=0):
        (image,) = example.images
        assert image.size == (84, 84) and image.mode == "RGB"
        colors = Counter({color: count for count, color in image.getcolors()})
        assert colors.most_common(1)[0][0] == BACKGROUND
        assert set(colors) <= {BACKGROUND, *PALETTE.values()}
    assert all(abs(channel - mean) <= 1 for channel, mean in zip(BACKGROUND, (122, 116, 104), strict=True))
    small = make_synthetic(10, seed=0, image_size=56)
    assert all(count_blobs(e.images[0]) == e.metadata["counts"] for e in small)


def test_families_difficulty_and_choices() -> None:
    examples = make_synthetic(30, seed=1, families=("compare", "max_color"), difficulty=3)
    assert Counter(e.metadata["family"] for e in examples) == {"compare": 15, "max_color": 15}
    assert all(e.metadata["difficulty"] == 3 for e in examples)
    for example in examples:
        assert example.answer in tuple("ABCD"[: len(example.choices)])
        assert all(f"\n{'ABCD'[i]}. {text}" in example.question for i, text in enumerate(example.choices))
    max_color = [e for e in examples if e.metadata["family"] == "max_color"]
    assert all(len(e.choices) == 4 for e in max_color)
    counts = [
        e.metadata["counts"][e.metadata["asked"][0]] for e in make_synthetic(200, seed=2, families=("count_color",))
    ]
    assert min(counts) >= 1 and max(counts) == 9


@pytest.mark.parametrize(
    "kwargs",
    [{"split": "test"}, {"families": ("nope",)}, {"families": ()}, {"difficulty": 4}, {"image_size": 42}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_synthetic(2, seed=0, **kwargs)


def test_worked_solutions_are_short_correct_and_recheck_on_demand() -> None:
    rng = random.Random(0)
    for example in make_synthetic(40, seed=4):
        plain = worked_solution(example, rng)
        assert re.findall(r"\\boxed\{([^}]*)\}", plain) == [example.answer]
        assert len(plain.split()) <= 20
        assert "Wait" not in plain
        rechecked = worked_solution(example, rng, recheck_prob=1.0)
        boxed = re.findall(r"\\boxed\{([^}]*)\}", rechecked)
        assert boxed == [example.answer, example.answer]
        assert rechecked.startswith(plain + "\n\nWait, ")
        assert "again." in rechecked


def test_worked_solution_arithmetic_matches_counts() -> None:
    example = next(e for e in make_synthetic(10, seed=0, families=("compare",)) if e.metadata["difficulty"] == 3)
    counts = example.metadata["counts"]
    first, second = example.choices
    text = worked_solution(example, random.Random(0))
    sign = ">" if counts[first] > counts[second] else "<"
    assert f"{counts[first]} {sign} {counts[second]}, so " in text
    with pytest.raises(ValueError):
        worked_solution(Example(id="x", question="q", answer="1"), random.Random(0))


def test_corpus_covers_every_word_of_questions_and_solutions() -> None:
    corpus = synthetic_corpus(60, seed=0)
    vocabulary = {word for text in corpus for word in re.findall(r"\w+|[^\w\s]", text)}
    rng = random.Random(9)
    for example in make_synthetic(60, seed=9, split="eval"):
        for text in (example.question, worked_solution(example, rng, recheck_prob=0.5)):
            assert set(re.findall(r"\w+|[^\w\s]", text)) <= vocabulary
    assert "boxed" in vocabulary and "Wait" in vocabulary
    assert synthetic_corpus(60, seed=0) == corpus
