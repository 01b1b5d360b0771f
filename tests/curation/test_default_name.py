"""The default model name of a pass-rate column says which model it was, also for a run's checkpoint save."""

from __future__ import annotations

from pathlib import Path

import pytest

from rethinker.curation.cli import default_name


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("runs/sft-warm/checkpoints/step-375", "sft-warm-step-375"),
        ("runs/grpo/checkpoints/latest", "grpo-latest"),
        ("runs/hf/checkpoint-1200", "hf-checkpoint-1200"),
        ("models/Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL-7B-Instruct"),
    ],
)
def test_default_name_of_a_folder(tmp_path: Path, relative: str, expected: str) -> None:
    folder = tmp_path / relative
    folder.mkdir(parents=True)
    assert default_name(str(folder), folder) == expected


def test_default_name_of_a_built_in_model_is_what_was_typed() -> None:
    assert default_name("tiny", Path("/somewhere/assets/tiny-warm")) == "tiny"
