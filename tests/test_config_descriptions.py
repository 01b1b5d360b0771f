"""Every config field explains itself, and `rethinker config` prints the explanation above each key."""

from collections.abc import Callable, Iterator
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from rethinker.config import RLConfig, RolloutConfig, load_config
from rethinker.sft_config import SFTConfig


def sections_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The config models a field's type holds: itself, or those inside `X | None`, `list[X]`, ..."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in get_args(annotation):
        yield from sections_in(argument)


def all_fields(schema: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """(dotted name, description) of every field of `schema` and of every model nested in it, lists included."""
    for name, info in schema.model_fields.items():
        yield f"{prefix}{name}", info.description
        for section in sections_in(info.annotation):
            yield from all_fields(section, f"{prefix}{name}.")


@pytest.mark.parametrize(
    ("schema", "nested"), [(RLConfig, "stages.temperature"), (SFTConfig, "data.synthetic.recheck_prob")]
)
def test_every_field_of_the_schema_has_a_description(schema: type[BaseModel], nested: str) -> None:
    fields = list(all_fields(schema))
    assert len(fields) > 50 and nested in dict(fields)
    undescribed = [name for name, description in fields if not (description and description.strip())]
    assert undescribed == []


def test_rethinker_config_prints_each_keys_description_above_it(
    rethinker_cli: Callable[..., Any], tmp_path: Any
) -> None:
    result = rethinker_cli("config", "tiny")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    description = RolloutConfig.model_fields["group_size"].description
    key = next(index for index, line in enumerate(lines) if line.startswith("  group_size:"))
    assert lines[key - 1] == f"  # {description}"
    assert lines[lines.index("rethink:") - 1] == f"# {RLConfig.model_fields['rethink'].description}"
    path = tmp_path / "printed.yaml"
    path.write_text(result.stdout)
    assert load_config(RLConfig, str(path), []) == load_config(RLConfig, "tiny", [])
