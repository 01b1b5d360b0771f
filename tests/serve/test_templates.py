"""The training run's instruction template: found from a checkpoint, applied by default, changed per request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from rethinker.data.images import load_image
from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.models.loading import load_model, load_processor
from rethinker.models.prompts import SYSTEM_PROMPTS, build_messages
from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.generation import Generator
from rethinker.serve.templates import apply_template, choose_template, find_run_template

QUESTION = "How many dots are there?"


def make_run(root: Path, tiny_dir: Path, config: dict) -> Path:
    """A run folder holding `config.yaml` and `checkpoints/step-3` (a link to the tiny model); the checkpoint path."""
    (root / "checkpoints").mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    step = root / "checkpoints" / "step-3"
    step.symlink_to(tiny_dir, target_is_directory=True)
    return step


def test_run_template_is_found_two_levels_above_a_checkpoint(tmp_path: Path, tiny_dir: Path) -> None:
    step = make_run(tmp_path / "rl", tiny_dir, {"prompt": {"template": "rethink", "system": None}})
    found = find_run_template(step)
    assert (found.template, found.system, found.source) == ("rethink", None, str(tmp_path / "rl" / "config.yaml"))
    sft = make_run(tmp_path / "sft", tiny_dir, {"data": {"source": "synthetic", "template": "r1"}})
    assert find_run_template(sft).template == "r1"
    several = {"data": {"source": "synthetic", "template": ["rethink", "default"]}}
    mixed = make_run(tmp_path / "mixed", tiny_dir, several)
    assert find_run_template(mixed).template == "rethink"
    sft_file = make_run(tmp_path / "sft-file", tiny_dir, {"data": {"source": "file", "template": "default"}})
    assert find_run_template(sft_file).template == "plain"
    assert choose_template("auto", None, tiny_dir).template == "plain"
    assert choose_template("r1", None, step).source == "--template"


def test_unreadable_or_unknown_templates_are_user_errors(tmp_path: Path, tiny_dir: Path) -> None:
    step = make_run(tmp_path / "bad", tiny_dir, {"prompt": {"template": "socratic"}})
    with pytest.raises(UserError, match="config.yaml.*socratic"):
        choose_template("auto", None, step)
    (tmp_path / "bad" / "config.yaml").write_text("prompt: [unclosed")
    with pytest.raises(UserError, match="cannot read the run's prompt template"):
        choose_template("auto", None, step)
    with pytest.raises(UserError, match="--template.*neither a known name"):
        choose_template("no placeholder here", None, step)


def test_apply_template_wraps_the_last_question_and_adds_the_system_prompt() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]},
    ]
    wrapped = apply_template(messages, "r1", None)
    assert wrapped[0] == {"role": "system", "content": SYSTEM_PROMPTS["r1"]}
    assert wrapped[1:3] == messages[:2]
    assert wrapped[3]["content"] == build_messages(Example("q", QUESTION, "3", images=(b"",)), "r1")[-1]["content"]
    rethink = apply_template(messages, "rethink", None)[-1]["content"][-1]["text"]
    assert rethink.startswith(QUESTION + "\n\nGuidelines") and "\\boxed{}" in rethink
    assert apply_template(messages, "plain", None) == messages
    own_system = [{"role": "system", "content": "be brief"}, *messages]
    assert apply_template(own_system, "r1", None)[0] == own_system[0]


@pytest.fixture(scope="module")
def run_server(tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path, config_for) -> Iterator[RethinkerServer]:
    """A server over a checkpoint of a run trained with the `rethink` template."""
    step = make_run(tmp_path_factory.mktemp("run"), tiny_dir, {"prompt": {"template": "rethink", "system": None}})
    server = build_server(config_for(), Generator(load_model(step), load_processor(step)), model_id="run")
    server.start()
    yield server
    server.stop()


def _prompt_tokens(generator: Generator, template: str, image: bytes) -> int:
    processor = generator.processor
    messages = build_messages(Example("q", QUESTION, "3", images=(image,)), template)
    return processor.encode(processor.render(messages), [load_image(image)]).length


def test_server_prompts_as_the_run_was_trained_unless_a_request_says_otherwise(
    run_server: RethinkerServer, generator: Generator, png, to_data_url, user_message
) -> None:
    image = png()
    body = {"messages": user_message(to_data_url(image), QUESTION), "max_tokens": 1}
    with httpx.Client(base_url=run_server.url, timeout=60) as client:
        assert client.get("/health").json()["template"] == "rethink"
        by_default = client.post("/v1/chat/completions", json=body).json()
        as_written = client.post("/v1/chat/completions", json={**body, "template": "plain"}).json()
        as_r1 = client.post("/v1/chat/completions", json={**body, "template": "r1"}).json()
        refused = client.post("/v1/chat/completions", json={**body, "template": "{question} {question.__class__}"})
    assert by_default["usage"]["prompt_tokens"] == _prompt_tokens(generator, "rethink", image)
    assert as_written["usage"]["prompt_tokens"] == _prompt_tokens(generator, "plain", image)
    assert as_r1["usage"]["prompt_tokens"] == _prompt_tokens(generator, "r1", image)
    assert len({by_default["usage"]["prompt_tokens"], as_written["usage"]["prompt_tokens"]}) == 2
    assert refused.status_code == 400 and "'template' must be one of" in refused.json()["error"]["message"]
