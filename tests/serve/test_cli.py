"""`rethinker serve` arguments, and the command itself: it serves, then stops cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rethinker.serve.cli import add_parser, config_from_args, run

LAUNCH = (
    "import argparse, sys\n"
    "from rethinker.serve.cli import add_parser\n"
    "parser = argparse.ArgumentParser()\n"
    "add_parser(parser.add_subparsers())\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_arguments_become_the_server_configuration(tmp_path: Path) -> None:
    args = _parse(
        ["serve", "--model", "tiny", "--port", "0", "--max-queue", "3", "--max-new-tokens", "64"]
        + ["--min-pixels", "3136", "--max-pixels", "50176", "--allow-files", str(tmp_path)]
    )
    assert args.func is run
    config = config_from_args(args)
    assert config.host == "127.0.0.1"
    assert (config.port, config.max_queue, config.max_new_tokens) == (0, 3, 64)
    assert (config.min_pixels, config.max_pixels) == (3136, 50176)
    assert config.file_roots == (tmp_path.resolve(),)


def test_bad_settings_exit_with_a_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(_parse(["serve", "--model", str(tmp_path), "--port", "0"])) == 2
    assert "no config.json" in capsys.readouterr().err
    assert run(_parse(["serve", "--max-queue", "0"])) == 2
    assert "max_queue must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_command_answers_then_stops_on_interrupt(tiny_dir: Path) -> None:
    command = [sys.executable, "-c", LAUNCH, "serve", "--model", str(tiny_dir), "--port", "0", "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ)
    try:
        banner = process.stdout.readline()
        assert banner.startswith("serving "), banner
        url = banner.split(" at ")[1].split(" ")[0]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]["id"] == str(tiny_dir)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
