"""The `coldstart` subcommand: registration on a parent parser, exit codes and messages."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rethinker.coldstart.cli import add_parser, main, run


def test_add_parser_registers_config_and_overrides() -> None:
    parser = argparse.ArgumentParser(prog="rethinker")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["coldstart", "c.yaml", "limit=3", "mllm.model=x"])
    assert (args.command, args.config, args.overrides, args.func) == (
        "coldstart",
        Path("c.yaml"),
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
