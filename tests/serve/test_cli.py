"""`rethinker serve` arguments, and the command itself: it serves, then stops cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from rethinker.serve.cli import add_parser, config_from_args, run
from tests.conftest import RETHINKER

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
        + ["--min-pixels", "3136", "--max-pixels", "50176", "--allow-files", str(tmp_path), "--template", "r1"]
        + ["--max-request-pixels", "9000000", "--max-decoding-pixels", "20000000"]
    )
    assert args.func is run
    config = config_from_args(args)
    assert config.host == "127.0.0.1"
    assert (config.port, config.max_queue, config.max_new_tokens) == (0, 3, 64)
    assert (config.min_pixels, config.max_pixels) == (3136, 50176)
    assert config.file_roots == (tmp_path.resolve(),)
    assert (config.template, config.system) == ("r1", None)
    assert (config.max_request_pixels, config.max_decoding_pixels) == (9_000_000, 20_000_000)
    assert _parse(["serve"]).template == "auto"
    with pytest.raises(ValueError, match="--system goes with --template NAME"):
        config_from_args(_parse(["serve", "--system", "r1"]))


def _run_dir(root: Path, tiny_dir: Path, template: str) -> Path:
    """A training run trained with `template`, its checkpoint at `checkpoints/step-2` (a link to the tiny model)."""
    (root / "checkpoints").mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({"prompt": {"template": template, "system": None}}))
    step = root / "checkpoints" / "step-2"
    step.symlink_to(tiny_dir, target_is_directory=True)
    return step


def test_unknown_run_template_is_a_user_error_naming_the_config(
    rethinker_cli, user_error, tmp_path: Path, tiny_dir: Path
) -> None:
    step = _run_dir(tmp_path / "run", tiny_dir, "socratic")
    result = rethinker_cli("serve", "--model", str(step), "--port", "0", "--device", "cpu")
    user_error(result, "rethinker serve: ", str(tmp_path / "run" / "config.yaml"), "socratic")


@pytest.mark.slow
def test_bad_settings_are_one_line_user_errors(rethinker_cli, user_error, tmp_path: Path) -> None:
    user_error(rethinker_cli("serve", "--model", str(tmp_path), "--port", "0", "--device", "cpu"), "no config.json")
    user_error(rethinker_cli("serve", "--max-queue", "0"), "rethinker serve: max_queue must be at least 1")
    user_error(rethinker_cli("serve", "--template", "socratic"), "rethinker serve: template 'socratic'")


def test_serve_command_applies_the_run_template_and_exits_0_on_sigterm_mid_stream(
    tmp_path: Path, tiny_dir: Path
) -> None:
    """The console command reads the run's template, streams, and on SIGTERM ends the open stream cleanly."""
    step = _run_dir(tmp_path / "run", tiny_dir, "rethink")
    command = [RETHINKER, "serve", "--model", str(step), "--port", "0", "--device", "cpu", "--max-new-tokens", "4000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        banner = process.stdout.readline()
        assert banner.startswith("serving ") and f"template rethink ({tmp_path / 'run' / 'config.yaml'})" in banner
        url = banner.split(" at ")[1].split(" ")[0]
        body = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 4000, "ignore_eos": True}
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/health").json()["template"] == "rethink"
            with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as stream:
                lines = stream.iter_lines()
                assert "assistant" in next(lines)
                threading.Timer(0.5, process.send_signal, (signal.SIGTERM,)).start()
                rest = [line for line in lines if line]
        assert rest[-1] == "data: [DONE]"
        assert "cancelled" in json.loads(rest[-2][6:])["error"]["message"]
        assert process.wait(timeout=30) == 0
        assert "stopping on SIGTERM" in process.stdout.read()
        log = process.stderr.read()
        assert "Traceback" not in log
        assert "INFO rethinker.serve.access: 127.0.0.1:" in log and "POST /v1/chat/completions 200" in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


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
