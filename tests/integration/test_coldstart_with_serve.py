"""Vision-R1 cold start against the project's own server: records flow through every stage, and a killed run resumes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rethinker.data.synthetic import make_synthetic
from rethinker.models.loading import load_model, load_processor
from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.config import ServeConfig
from rethinker.serve.generation import Generator

RECORDS = 8


@pytest.fixture
def server(tiny_dir: Path) -> Iterator[RethinkerServer]:
    """`rethinker serve` on the tiny model, on a free loopback port."""
    config = ServeConfig(port=0, max_queue=4, max_new_tokens=12)
    server = build_server(config, Generator(load_model(tiny_dir), load_processor(tiny_dir)), model_id="tiny")
    server.start()
    yield server
    server.stop()


def _vqa(folder: Path) -> Path:
    lines = []
    for example in make_synthetic(RECORDS, seed=3, split="eval"):
        image = folder / f"{example.id}.png"
        example.images[0].save(image)
        lines.append({"id": example.id, "image": image.name, "question": example.question, "answer": example.answer})
    path = folder / "vqa.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _config(folder: Path, url: str) -> Path:
    endpoint = {"base_url": url, "model": "tiny", "max_tokens": 12, "max_concurrency": 2, "timeout_s": 120}
    config = {
        "input": str(_vqa(folder)),
        "output_dir": str(folder / "out"),
        "records_in_flight": 2,
        "mllm": endpoint,
        "reasoner": endpoint,
    }
    path = folder / "coldstart.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _finished(out: Path) -> list[str]:
    ids = []
    for name in ("coldstart.jsonl", "dropped.jsonl"):
        if (out / name).exists():
            ids += [json.loads(line)["id"] for line in (out / name).read_text().splitlines() if line.endswith("}")]
    return ids


def test_coldstart_against_rethinker_serve_survives_a_kill(tmp_path: Path, server: RethinkerServer) -> None:
    config = _config(tmp_path, f"{server.url}/v1")
    command = [sys.executable, "-m", "rethinker.coldstart.cli", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(_finished(tmp_path / "out")) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "the pipeline ended or stalled before the kill"
        time.sleep(0.2)
    process.kill()
    process.wait()
    before = set(_finished(tmp_path / "out"))
    assert 2 <= len(before) < RECORDS

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    finished = _finished(tmp_path / "out")
    assert sorted(finished) == sorted(f"synthetic-eval-3-{i}" for i in range(RECORDS))
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["totals"]["finished"] == RECORDS
    dropped = [json.loads(line) for line in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert all(record["reason"] for record in dropped)
