"""The `coldstart` subcommand: registration on a parent parser, exit codes and messages."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rethinker.coldstart.cli import add_parser, main, run
from rethinker.coldstart.standin import StandinHandler
from rethinker.coldstart.synthetic_vqa import write_synthetic_vqa
from rethinker.rewards.format import has_think_answer_format

REPO_ROOT = Path(__file__).parents[2]


def test_add_parser_registers_config_and_overrides() -> None:
    parser = argparse.ArgumentParser(prog="rethinker")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["coldstart", "c.yaml", "limit=3", "mllm.model=x"])
    assert (args.command, args.config, args.overrides, args.func) == (
        "coldstart",
        "c.yaml",
        ["limit=3", "mllm.model=x"],
        run,
    )


def test_run_completes_with_overrides(
    tmp_path: Path,
    chat_server: Any,
    capsys: pytest.CaptureFixture[str],
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    save_yaml: Callable[[dict[str, Any]], Path],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    vqa = make_vqa(["One?", "Two?", "Three?"])
    config_path = save_yaml(make_config(vqa, "http://127.0.0.1:9/v1"))
    overrides = [f"mllm.base_url={chat_server.url}", f"reasoner.base_url={chat_server.url}", "limit=2"]
    assert main([str(config_path), *overrides]) == 0
    assert len(jsonl(tmp_path / "out" / "coldstart.jsonl")) == 2
    assert "2 kept, 0 dropped of 2 records" in capsys.readouterr().out


def test_bad_config_and_bad_input_exit_with_2_and_a_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    save_yaml: Callable[[dict[str, Any]], Path],
) -> None:
    vqa = make_vqa(["One?"])
    config_path = save_yaml(make_config(vqa, "http://127.0.0.1:9/v1"))
    assert main([str(config_path), "reasoner.nonsense=1"]) == 2
    assert "reasoner.nonsense" in capsys.readouterr().err
    vqa.write_text('{"id": "a"}\n', encoding="utf-8")
    assert main([str(config_path)]) == 2
    assert "vqa.jsonl line 1 field 'image'" in capsys.readouterr().err


def test_console_command_with_a_config_file_and_overrides(
    tmp_path: Path,
    chat_server: Any,
    rethinker_cli: Callable[..., Any],
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    save_yaml: Callable[[dict[str, Any]], Path],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    vqa = make_vqa(["One?", "Two?", "Three?"])
    config_path = save_yaml(make_config(tmp_path / "missing.jsonl", chat_server.url))
    result = rethinker_cli("coldstart", str(config_path), f"input={vqa}", "limit=2")
    assert result.returncode == 0, result.stderr
    assert "2 kept, 0 dropped of 2 records" in result.stdout
    assert len(jsonl(tmp_path / "out" / "coldstart.jsonl")) == 2


@pytest.mark.parametrize("config", [["configs/coldstart.yaml"], ["coldstart"], []])
def test_console_command_with_the_shipped_config_its_preset_name_or_none_against_the_standin(
    config: list[str], tmp_path: Path, rethinker_cli: Callable[..., Any], jsonl: Callable[[Path], list[dict[str, Any]]]
) -> None:
    vqa = write_synthetic_vqa(tmp_path / "vqa", size=4, seed=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandinHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        result = rethinker_cli(
            "coldstart",
            *config,
            f"input={vqa}",
            f"output_dir={tmp_path / 'out'}",
            f"mllm.base_url={url}",
            f"reasoner.base_url={url}",
            "reasoner.api_key_env=null",
            "filters.min_reasoning_chars=10",
            "progress=false",
            cwd=REPO_ROOT,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert "4 kept, 0 dropped of 4 records" in result.stdout
    responses = [record["conversations"][1]["value"] for record in jsonl(tmp_path / "out" / "coldstart.jsonl")]
    assert len(responses) == 4 and all(has_think_answer_format(text) for text in responses)
    assert all("description" not in text and "as the image shows" in text for text in responses)


def test_console_command_names_an_unknown_preset(rethinker_cli: Callable[..., Any], user_error: Any) -> None:
    user_error(rethinker_cli("coldstart", "no-such-preset", "limit=1"), "no-such-preset", "presets:")
