"""The scaling grid: model size x image tokens per prompt x new tokens per response x group size, and what is left out.

A cell is written `size/image_tokens/new_tokens/group`, e.g. `base/1024/128/8`. The default grid is the full product
of the axes minus the cells `left_out_reason` names, each with its reason (their cost on a 2-core CPU).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

SIZES = ("tiny", "small", "base")
IMAGE_TOKENS = (16, 256, 1024)
NEW_TOKENS = (32, 128, 512)
GROUPS = (8, 16)


@dataclass(frozen=True, order=True)
class Cell:
    """One point of the grid."""

    size: str
    image_tokens: int
    new_tokens: int
    group_size: int

    @property
    def name(self) -> str:
        """`size/image_tokens/new_tokens/group`, the form `--cells` takes."""
        return f"{self.size}/{self.image_tokens}/{self.new_tokens}/{self.group_size}"

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Read `size/image_tokens/new_tokens/group`; a ValueError names what is wrong."""
        parts = text.split("/")
        if len(parts) != 4:
            raise ValueError(f"cell {text!r}: expected size/image_tokens/new_tokens/group, e.g. small/256/128/8")
        size, *numbers = parts
        if size not in SIZES:
            raise ValueError(f"cell {text!r}: size must be one of {', '.join(SIZES)}")
        try:
            image_tokens, new_tokens, group = (int(n) for n in numbers)
        except ValueError:
            raise ValueError(f"cell {text!r}: image tokens, new tokens and group size must be integers") from None
        if min(image_tokens, new_tokens, group) < 1:
            raise ValueError(f"cell {text!r}: image tokens, new tokens and group size must be positive")
        return cls(size, image_tokens, new_tokens, group)


def left_out_reason(cell: Cell) -> str | None:
    """Why the default grid leaves `cell` out (None when it is measured): each axis is varied around 128 new tokens
    and groups of 8, and the cells that would take TRL minutes per step are dropped to keep the grid near 30 minutes.
    """
    if cell.new_tokens >= 512 and (cell.image_tokens > 16 or cell.group_size > 8 or cell.size == "base"):
        return (
            "512 new tokens are measured at 16 image tokens and groups of 8 on tiny and small; "
            "elsewhere TRL's step takes minutes"
        )
    if cell.group_size > 8 and cell.new_tokens != 128:
        return "groups of 16 are measured at 128 new tokens"
    if cell.new_tokens < 128 and 16 < cell.image_tokens < 1024:
        return "32 new tokens are measured at 16 and 1,024 image tokens"
    if cell.group_size > 8 and (cell.size == "base" or (cell.size == "small" and cell.image_tokens >= 1024)):
        return "groups of 16 on base, or with 1,024 image tokens on small: TRL alone takes over 10 minutes per process"
    return None


def trl_left_out_reason(cell: Cell) -> str | None:
    """Why only rethinker is measured in `cell` (None when both sides are)."""
    if cell.size == "base" and cell.image_tokens >= 1024:
        return (
            "TRL's step on the base model with 1,024 image tokens needs about 20 GB (7.9 GB on small, x2.6 for the "
            "base model's activations) on a 23 GB machine shared with other jobs, and minutes per step"
        )
    return None


def product(
    sizes: Sequence[str] = SIZES,
    image_tokens: Sequence[int] = IMAGE_TOKENS,
    new_tokens: Sequence[int] = NEW_TOKENS,
    groups: Sequence[int] = GROUPS,
) -> list[Cell]:
    """Every combination of the axes, in a stable order (size, image tokens, new tokens, group)."""
    return [Cell(*values) for values in itertools.product(sizes, image_tokens, new_tokens, groups)]


def select(cells: Sequence[Cell], keep_all: bool = False) -> tuple[list[Cell], dict[str, str]]:
    """The cells to measure and, by name, those left out with their reason (none when `keep_all`)."""
    if keep_all:
        return list(cells), {}
    left_out = {cell.name: reason for cell in cells if (reason := left_out_reason(cell)) is not None}
    return [cell for cell in cells if cell.name not in left_out], left_out
