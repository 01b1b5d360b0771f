"""Replay modes by name: each mode is one file here, registered in `REPLAY_MODES` (and named in `ReplayConfig.mode`)."""

from __future__ import annotations

from rethinker.config import ReplayConfig
from rethinker.train.replay_modes.base import Experience, ReplayMode, UpdateBatch, batch_metrics
from rethinker.train.replay_modes.dapo import DapoSampling
from rethinker.train.replay_modes.filter import FilterReplay
from rethinker.train.replay_modes.none import NoReplay
from rethinker.train.replay_modes.ssr import SelectiveSampleReplay
from rethinker.train.replay_modes.ssr_released import ReleasedSelectiveSampleReplay

REPLAY_MODES: dict[str, type[ReplayMode]] = {
    mode.name: mode
    for mode in (NoReplay, FilterReplay, SelectiveSampleReplay, ReleasedSelectiveSampleReplay, DapoSampling)
}


def build_replay_mode(config: ReplayConfig, batch_size: int, seed: int) -> ReplayMode:
    """The strategy object of `config.mode`, for update batches of `batch_size` samples (0: the whole episode)."""
    return REPLAY_MODES[config.mode](config, batch_size, seed)


__all__ = ["REPLAY_MODES", "Experience", "ReplayMode", "UpdateBatch", "batch_metrics", "build_replay_mode"]
