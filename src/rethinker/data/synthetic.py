"""The built-in synthetic visual reasoning tasks: coloured dots to count and compare, with verifiable answers.

Images are drawn on the Qwen image processor's mean colour, so empty areas normalise to about zero. Items are
deterministic by (split, seed), and a hash of each item's content decides which split may hold it, so the train and
eval splits never share an item whatever seeds they use.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from rethinker.data.schema import Example
from rethinker.data.teacher import EXACT_TEACHER, Teacher, as_taught
from rethinker.errors import UserError

QWEN_IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
BACKGROUND = (round(QWEN_IMAGE_MEAN[0] * 255), round(QWEN_IMAGE_MEAN[1] * 255), round(QWEN_IMAGE_MEAN[2] * 255))
"""The image background, (123, 117, 104): pixels of this colour normalise to about zero in the Qwen processors."""
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30),
    "blue": (30, 80, 240),
    "green": (20, 180, 60),
    "yellow": (250, 220, 20),
    "purple": (160, 40, 220),
}
FAMILIES = ("count", "count_color", "compare", "sum_count", "max_color")
DIFFICULTIES = (1, 2, 3)
SPLITS = ("train", "eval")
CELL = 14
"""Each dot sits alone in a CELL x CELL square, so dots never touch (at least 2 px apart)."""
RADII = (4, 5)
MAX_DOTS = 16
"""No task draws more dots than this, so a 56x56 image (a 4x4 grid of cells) holds any item."""
RECHECK_TRIGGERS = ("Wait, let's double check.", "Wait, does it seem right?")
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
_EVAL_SHARE = 4
"""One item in this many (by content hash) belongs to the eval split, the others to train."""


@dataclass(frozen=True)
class Dot:
    """One filled circle: centre, radius in pixels, and colour name."""

    x: int
    y: int
    radius: int
    color: str


@dataclass(frozen=True)
class Task:
    """What an item asks: how many dots of each colour to draw, the question, options and gold answer."""

    counts: dict[str, int]
    asked: tuple[str, ...]
    question: str
    answer: str
    choices: tuple[str, ...] = ()


def _colors(rng: random.Random, k: int) -> list[str]:
    """`k` distinct colour names in random order."""
    return rng.sample(list(PALETTE), k)


def _with_options(question: str, choices: Sequence[str]) -> str:
    """The question followed by lettered options, one per line."""
    return question + "".join(f"\n{string.ascii_uppercase[i]}. {text}" for i, text in enumerate(choices))


def _count_task(rng: random.Random, difficulty: int) -> Task:
    """How many dots (1-4, 1-6 or 1-9 by difficulty), all of one colour: counting alone, no tally."""
    total = rng.randint(1, (4, 6, 9)[difficulty - 1])
    (color,) = _colors(rng, 1)
    return Task({color: total}, (color,), "How many dots are there?", str(total))


def _count_color_task(rng: random.Random, difficulty: int) -> Task:
    """How many dots of one colour (1-9) among dots of other colours."""
    target, *others = _colors(rng, 1 + min(difficulty, 2))
    counts = {target: rng.randint(1, (3, 6, 9)[difficulty - 1])}
    counts.update({color: rng.randint(1, 2) for color in others})
    return Task(counts, (target,), f"How many {target} dots are there?", str(counts[target]))


def _compare_task(rng: random.Random, difficulty: int) -> Task:
    """Which of two colours has more dots, as a multiple choice."""
    first, second, distractor = _colors(rng, 3)
    most, gap = (6, 7, 7)[difficulty - 1], (3, 2, 1)[difficulty - 1]
    a, b = rng.randint(1, most), rng.randint(1, most)
    while abs(a - b) < gap:
        a, b = rng.randint(1, most), rng.randint(1, most)
    counts = {first: a, second: b}
    if difficulty == 3:
        counts[distractor] = rng.randint(1, 2)
    choices = (first, second)
    answer = "A" if a > b else "B"
    return Task(
        counts, choices, _with_options(f"Are there more {first} dots or {second} dots?", choices), answer, choices
    )


def _sum_count_task(rng: random.Random, difficulty: int) -> Task:
    """How many dots of two colours together."""
    first, second, distractor = _colors(rng, 3)
    most = (3, 5, 6)[difficulty - 1]
    counts = {first: rng.randint(1, most), second: rng.randint(1, most)}
    if difficulty == 3:
        counts[distractor] = rng.randint(1, 2)
    question = f"How many {first} and {second} dots are there in total?"
    return Task(counts, (first, second), question, str(counts[first] + counts[second]))


def _max_color_task(rng: random.Random, difficulty: int) -> Task:
    """Which colour has the most dots, among two to four colours, as a multiple choice."""
    colors = _colors(rng, difficulty + 1)
    most, gap = (5, 5, 4)[difficulty - 1], (2, 1, 1)[difficulty - 1]
    while True:
        values = [rng.randint(1, most) for _ in colors]
        ranked = sorted(values, reverse=True)
        if ranked[0] - ranked[1] >= gap:
            break
    counts = dict(zip(colors, values, strict=True))
    winner = max(counts, key=counts.__getitem__)
    choices = tuple(colors)
    answer = string.ascii_uppercase[choices.index(winner)]
    return Task(counts, choices, _with_options("Which color has the most dots?", choices), answer, choices)


TASK_SAMPLERS: dict[str, Callable[[random.Random, int], Task]] = {
    "count": _count_task,
    "count_color": _count_color_task,
    "compare": _compare_task,
    "sum_count": _sum_count_task,
    "max_color": _max_color_task,
}


def place_dots(counts: dict[str, int], rng: random.Random, image_size: int) -> tuple[Dot, ...]:
    """Put each dot in its own random grid cell, jittered inside it, so no two dots touch."""
    grid = image_size // CELL
    offset = (image_size - grid * CELL) // 2
    colors = [color for color, count in counts.items() for _ in range(count)]
    if len(colors) > grid * grid:
        raise ValueError(f"{len(colors)} dots do not fit a {image_size}x{image_size} image")
    dots = []
    for color, cell in zip(colors, rng.sample(range(grid * grid), len(colors)), strict=True):
        radius = rng.choice(RADII)
        left, top = offset + (cell % grid) * CELL, offset + (cell // grid) * CELL
        x = left + rng.randint(radius + 1, CELL - 2 - radius)
        y = top + rng.randint(radius + 1, CELL - 2 - radius)
        dots.append(Dot(x, y, radius, color))
    return tuple(dots)


def draw_dots(dots: Sequence[Dot], image_size: int) -> Image.Image:
    """Draw the dots, without anti-aliasing, on a background of the processor's mean colour."""
    image = Image.new("RGB", (image_size, image_size), BACKGROUND)
    pen = ImageDraw.Draw(image)
    for dot in dots:
        box = (dot.x - dot.radius, dot.y - dot.radius, dot.x + dot.radius, dot.y + dot.radius)
        pen.ellipse(box, fill=PALETTE[dot.color])
    return image


def split_of(question: str, dots: Sequence[Dot]) -> str:
    """The split an item belongs to, from a hash of what the model sees: the question and the set of dots."""
    content = repr((question, sorted(dots, key=lambda dot: (dot.x, dot.y)))).encode()
    return "eval" if int(hashlib.sha256(content).hexdigest()[:8], 16) % _EVAL_SHARE == 0 else "train"


def _check_arguments(split: str, families: Sequence[str], difficulty: Sequence[int], image_size: int) -> None:
    """Refuse unknown splits, families and difficulties, and images too small for the largest task."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {SPLITS}")
    unknown = [name for name in families if name not in TASK_SAMPLERS]
    if unknown or not families:
        raise UserError(f"synthetic task families: unknown or none {unknown}; choose from {FAMILIES}")
    if not difficulty or any(level not in DIFFICULTIES for level in difficulty):
        raise UserError(f"difficulty levels must be among {DIFFICULTIES}, got {tuple(difficulty)}")
    if (image_size // CELL) ** 2 < MAX_DOTS:
        raise UserError(f"synthetic image_size {image_size} is too small; use at least {4 * CELL}")


def _synthetic_items(
    n: int, seed: int, split: str, families: Sequence[str], difficulty: Sequence[int], image_size: int, draw: bool
) -> list[Example]:
    """Items of one split, drawn or not (the tokenizer corpus needs only their texts)."""
    _check_arguments(split, families, difficulty, image_size)
    rng = random.Random(f"rethinker-synthetic:{split}:{seed}")
    examples = []
    for index in range(n):
        family, level = families[index % len(families)], rng.choice(list(difficulty))
        while True:
            task = TASK_SAMPLERS[family](rng, level)
            dots = place_dots(task.counts, rng, image_size)
            if split_of(task.question, dots) == split:
                break
        metadata = {
            "family": family,
            "difficulty": level,
            "counts": dict(task.counts),
            "asked": list(task.asked),
            "answer_type": "choice" if task.choices else "integer",
            "split": split,
            "seed": seed,
        }
        examples.append(
            Example(
                id=f"synthetic-{split}-{seed}-{index}",
                question=task.question,
                answer=task.answer,
                images=(draw_dots(dots, image_size),) if draw else (),
                choices=task.choices,
                metadata=metadata,
            )
        )
    return examples


def make_synthetic(
    n: int,
    seed: int,
    split: str = "train",
    families: Sequence[str] = FAMILIES,
    difficulty: int | Sequence[int] = DIFFICULTIES,
    image_size: int = 84,
) -> list[Example]:
    """`n` synthetic items of `split`, families in turn and difficulty drawn from the given levels, by `seed`."""
    levels = (difficulty,) if isinstance(difficulty, int) else tuple(difficulty)
    names = (families,) if isinstance(families, str) else tuple(families)
    return _synthetic_items(n, seed, split, names, levels, image_size, draw=True)


def _dots(count: int | str, color: str = "") -> str:
    """'1 red dot', '3 red dots' or '3 dots'."""
    noun = "dot" if str(count) == "1" else "dots"
    return " ".join(part for part in (str(count), color, noun) if part)


def _tally(counts: dict[str, int], colors: Sequence[str]) -> str:
    """'1 red dot', '3 red dots and 5 blue dots', or '3 red, 5 blue and 2 green dots'."""
    if len(colors) <= 2:
        return " and ".join(_dots(counts[color], color) for color in colors)
    parts = [f"{counts[color]} {color}" for color in colors]
    return f"{', '.join(parts[:-1])} and {parts[-1]} dots"


def _reasoning(example: Example) -> tuple[str, str, str]:
    """The counting sentence, the conclusion drawn from it, and the shortest recount that confirms the answer."""
    meta = example.metadata
    counts, asked, family = meta["counts"], list(meta["asked"]), meta["family"]
    total = f"I count {_dots(example.answer)}."
    if family == "count":
        return total, "", total
    tally = f"I count {_tally(counts, asked)}."
    if family == "sum_count":
        return tally, f"{' + '.join(str(counts[color]) for color in asked)} = {example.answer}.", tally
    if family == "compare":
        first, second = asked
        sign = ">" if counts[first] > counts[second] else "<"
        winner = first if sign == ">" else second
        return tally, f"{counts[first]} {sign} {counts[second]}, so {winner} has more.", tally
    if family == "max_color":
        winner = max(asked, key=counts.__getitem__)
        return tally, f"So {winner} has the most.", f"I count {_dots(counts[winner], winner)}."
    return tally, "", tally


def _recheck(example: Example, taught: Example, teacher: Teacher, rng: random.Random) -> str:
    """What follows a re-check's trigger, in the teacher's style: "vote" counts afresh and, when that disagrees with
    the first answer, lets a third count settle it (the majority of the three whenever there is one); "fix" recounts
    right after a miscount at the teacher's rate; otherwise the recount confirms the first answer."""
    if teacher.recheck_style == "vote":
        second = as_taught(example, teacher, rng)
        if second.answer != taught.answer:
            third = as_taught(example, teacher, rng)
            return f"{_reasoning(second)[2]} {_reasoning(third)[2]} \\boxed{{{third.answer}}}"
    elif taught.metadata["counts"] != example.metadata["counts"] and teacher.recheck_fixes(rng):
        return f"{_reasoning(example)[2]} \\boxed{{{example.answer}}}"
    return f"{_reasoning(taught)[2][:-1]} again. \\boxed{{{taught.answer}}}"


def worked_solution(
    example: Example, rng: random.Random, recheck_prob: float = 0.0, teacher: Teacher = EXACT_TEACHER
) -> str:
    """A short solution ending in `\\boxed{answer}`, as `teacher` counts (exact by default); with probability
    `recheck_prob` a recount follows it, in the teacher's `recheck_style`."""
    if "family" not in example.metadata:
        raise ValueError(f"example {example.id} is not a synthetic item")
    taught = as_taught(example, teacher, rng)
    counting, conclusion, _ = _reasoning(taught)
    solution = " ".join(part for part in (counting, conclusion, f"\\boxed{{{taught.answer}}}") if part)
    if rng.random() < recheck_prob:
        trigger = rng.choice(RECHECK_TRIGGERS)
        solution += f"\n\n{trigger} {_recheck(example, taught, teacher, rng)}"
    return solution


def synthetic_corpus(n: int, seed: int) -> list[str]:
    """Texts covering every word the synthetic tasks use (questions, solutions, rechecks, instruction, triggers)."""
    rng = random.Random(f"rethinker-corpus:{seed}")
    texts = [INSTRUCTION, *RECHECK_TRIGGERS, "Wait", "Wait, there might be a mistake", " ".join(PALETTE)]
    texts.append(" ".join(str(number) for number in range(2 * MAX_DOTS + 1)))
    for example in _synthetic_items(n, seed, "train", FAMILIES, DIFFICULTIES, 84, draw=False):
        texts.append(example.question)
        texts.append(worked_solution(example, rng, recheck_prob=0.5))
    return texts
