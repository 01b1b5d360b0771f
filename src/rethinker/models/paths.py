"""Where a model setting points: the packaged tiny models, or a checked local checkpoint directory."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from rethinker.models.loading import ModelPathError, cache_dir, check_checkpoint
from rethinker.models.tiny import RANDOM_ALIASES, ensure_tiny

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
"""What a Hugging Face Hub model id looks like: `owner/name`."""


def resolve_model_path(path: str, key: str = "model") -> Path:
    """A checked local checkpoint directory for a model setting (`key` names it in errors, e.g. 'model.path').

    'tiny' is the packaged warm-started tiny model (reproduced by `scripts/make_tiny_warm.sh`); 'tiny-random' builds
    (once, in the cache) the randomly initialised Qwen2.5-VL it starts from, and 'tiny-random-qwen2-vl',
    'tiny-random-qwen2.5-vl' and 'tiny-random-qwen3-vl' the same for each model family. Anything else must be a local
    checkpoint directory; a missing one, a hub id or a folder without a supported config is a `ModelPathError`.
    """
    if path == "tiny":
        return Path(str(resources.files("rethinker").joinpath("assets", "tiny-warm")))
    if path in RANDOM_ALIASES:
        return ensure_tiny(cache_dir(), family=RANDOM_ALIASES[path])
    local = Path(path).expanduser()
    if not local.exists():
        if HUB_ID.fullmatch(path):
            raise ModelPathError(
                f"{key} {path!r}: no such local folder, and no model hub is reachable to fetch it as a Hugging Face "
                f"id; on a machine with network access run `huggingface-cli download {path} --local-dir DIR`, copy "
                "DIR here and pass its path"
            )
        raise ModelPathError(
            f"{key} {path!r}: no such folder; pass a local checkpoint directory, 'tiny' or one of "
            f"{', '.join(sorted(RANDOM_ALIASES))}"
        )
    if not local.is_dir():
        raise ModelPathError(f"{key} {path!r} is a file; pass the checkpoint folder that holds config.json")
    check_checkpoint(local)
    return local
