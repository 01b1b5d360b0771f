"""Training and held-out examples from the data config, and a resumable, seeded order over them."""

from __future__ import annotations

import logging

import torch

from rethinker.config import DataConfig
from rethinker.data.errors import DataError
from rethinker.data.loaders import column_map, load_examples
from rethinker.data.schema import Example
from rethinker.data.selection import parse_interval, select_by_interval
from rethinker.data.synthetic import FAMILIES, make_synthetic
from rethinker.data.virl39k import load_virl39k

log = logging.getLogger(__name__)


def build_datasets(config: DataConfig, seed: int) -> tuple[list[Example], list[Example], dict[str, float]]:
    """(train, held-out, counts) for a run; counts record rows skipped and queries kept/dropped by selection."""
    counts: dict[str, float] = {}
    if config.source == "synthetic":
        synth = config.synthetic
        families = tuple(synth.families or FAMILIES)
        train = make_synthetic(synth.train_size, seed, "train", families, image_size=synth.image_size)
        held_out = make_synthetic(synth.eval_size, seed, "eval", families, image_size=synth.image_size)
        return train, held_out, counts
    if config.source == "virl39k":
        loaded = load_virl39k(config.path, on_error=config.on_error)
    else:
        loaded = load_examples(
            config.path, columns=column_map(config.columns), image_root=config.image_root, on_error=config.on_error
        )
    counts["data/skipped_rows"] = float(len(loaded.skipped))
    train = loaded.examples
    if config.passrate_column:
        interval = parse_interval(config.passrate_interval or "(0, 1]")
        train, kept = select_by_interval(train, config.passrate_column, interval)
        counts.update({f"data/selection_{key}": float(value) for key, value in kept.items()})
        log.info("pass-rate selection on %s %s: %s", config.passrate_column, interval, kept)
    held_out: list[Example] = []
    if config.eval_path:
        held_out = load_examples(
            config.eval_path, columns=column_map(config.columns), image_root=config.image_root, on_error=config.on_error
        ).examples
    if not train:
        raise DataError(f"{config.path}: no training examples left (empty file, or none in the pass-rate interval)")
    return train, held_out, counts


class DataStream:
    """Query indices in a seeded order, reshuffled each epoch; its position is part of the checkpoint."""

    def __init__(self, size: int, seed: int, shuffle: bool = True) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.position = 0

    def _order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 7919 + epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def take(self, n: int) -> list[int]:
        """The next `n` indices (crossing epoch boundaries as needed)."""
        out: list[int] = []
        while len(out) < n:
            epoch, offset = divmod(self.position, self.size)
            order = self._order(epoch)
            chunk = order[offset : offset + n - len(out)]
            out.extend(chunk)
            self.position += len(chunk)
        return out
