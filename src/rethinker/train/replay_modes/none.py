"""`none`: train on every sample of the episode, as rolled out."""

from __future__ import annotations

from typing import ClassVar

from rethinker.train.replay_modes.base import ReplayMode


class NoReplay(ReplayMode):
    """Plain GRPO: every sample of the episode, including those with zero advantage."""

    name: ClassVar[str] = "none"
