"""The pipeline end to end against a scripted OpenAI-compatible server: outputs, drop reasons, stats and resume."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rethinker.chat.client import ChatReply
from rethinker.coldstart.config import ColdstartConfig, FilterConfig
from rethinker.coldstart.pipeline import ReplyFilter, run_pipeline
from rethinker.data.schema import Example
from rethinker.rewards.verify import Verifier


def run(data: dict) -> dict:
    return asyncio.run(run_pipeline(ColdstartConfig.model_validate(data)))


def test_end_to_end_keeps_correct_records_and_drops_the_rest(
    tmp_path: Path,
    chat_server: Any,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    questions = ["What number is shown?", "Which number? [wrong]", "Read the card. [blind]", "And this one?"]
    vqa = make_vqa(questions)
    out = tmp_path / "out"
    summary = run(make_config(vqa, chat_server.url))

    kept = jsonl(out / "coldstart.jsonl")
    dropped = {record["id"]: record for record in jsonl(out / "dropped.jsonl")}
    assert sorted(record["id"] for record in kept) == ["r0", "r3"]
    assert {key: (value["stage"], value["reason"]) for key, value in dropped.items()} == {
        "r1": ("filter", "wrong_answer"),
        "r2": ("filter", "cannot_see_image"),
    }
    assert dropped["r1"]["description"].startswith("The image shows a card with the number 11")
    first = next(record for record in kept if record["id"] == "r0")
    assert first["images"] == ["img/0_0.png"]
    assert first["conversations"][0] == {"from": "human", "value": "<image>q0 What number is shown?"}
    gpt = first["conversations"][1]
    assert gpt["from"] == "gpt"
    assert gpt["value"] == (
        "<think>\nThe image shows the card shows 10. Reading it off, the answer is 10.\n</think>\n"
        "<answer>\nThe answer is \\boxed{10}.\n</answer>"
    )
    stats = json.loads((out / "stats.json").read_text())
    assert stats == summary
    assert stats["totals"] == {
        "finished": 4,
        "kept": 2,
        "dropped": 2,
        "drop_reasons": {"filter:cannot_see_image": 1, "filter:wrong_answer": 1},
    }
    assert stats["this_run"]["stages"]["reasoning"] == {"started": 4, "succeeded": 4}
    assert stats["this_run"]["stages"]["filter"] == {"succeeded": 2, "failed": 2}
    assert stats["requests"]["mllm"]["requests"] == 8 and stats["requests"]["reasoner"]["requests"] == 4
    stage_images = {(request["stage"], request["images"]) for request in chat_server.requests}
    assert stage_images == {("COT", 1), ("DESC", 1), ("REASON", 0)}


def test_rerun_skips_finished_records_without_requests_or_duplicates(
    tmp_path: Path, chat_server: Any, make_vqa: Callable[..., Path], make_config: Callable[..., dict[str, Any]]
) -> None:
    vqa = make_vqa(["One?", "Two? [wrong]", "Three?"])
    out = tmp_path / "out"
    config = make_config(vqa, chat_server.url)
    run({**config, "limit": 2})
    assert len(chat_server.requests) == 6
    summary = run(config)
    assert chat_server.questions_asked()[6:] == ["q2 Three?"] * 3
    assert summary["already_finished"] == 2
    assert summary["this_run"]["finished"] == 1
    assert summary["totals"] == {
        "finished": 3,
        "kept": 2,
        "dropped": 1,
        "drop_reasons": {"filter:wrong_answer": 1},
    }
    before = (out / "coldstart.jsonl").read_bytes(), (out / "dropped.jsonl").read_bytes()
    run(config)
    assert len(chat_server.requests) == 9
    assert ((out / "coldstart.jsonl").read_bytes(), (out / "dropped.jsonl").read_bytes()) == before


def test_two_images_keep_their_placeholders(
    tmp_path: Path,
    chat_server: Any,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    vqa = make_vqa(["Compare <image> with <image>: which number?"], images_per_record=2)
    out = tmp_path / "out"
    run(make_config(vqa, chat_server.url))
    (record,) = jsonl(out / "coldstart.jsonl")
    assert record["images"] == ["img/0_0.png", "img/0_1.png"]
    assert record["conversations"][0]["value"] == "q0 Compare <image> with <image>: which number?"
    assert {request["images"] for request in chat_server.requests if request["stage"] != "REASON"} == {2}
    assert chat_server.requests[0]["question"] == "q0 Compare with : which number?"


def test_kill_mid_run_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path,
    chat_server: Any,
    caplog: pytest.LogCaptureFixture,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    save_yaml: Callable[[dict[str, Any]], Path],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    chat_server.delay_s = 0.05
    questions = [f"Number {index}?" + (" [wrong]" if index % 5 == 0 else "") for index in range(30)]
    vqa = make_vqa(questions)
    out = tmp_path / "out"
    config = make_config(vqa, chat_server.url)
    config_path = save_yaml({**config, "records_in_flight": 2, "fsync": True})
    process = subprocess.Popen(
        [sys.executable, "-m", "rethinker.coldstart.cli", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(jsonl(out / "coldstart.jsonl")) + len(jsonl(out / "dropped.jsonl")) < 6:
        assert process.poll() is None and time.monotonic() < deadline, "the run ended or stalled before the kill"
        time.sleep(0.02)
    process.kill()
    process.wait()
    finished_before = {record["id"] for name in ("coldstart.jsonl", "dropped.jsonl") for record in jsonl(out / name)}
    assert 6 <= len(finished_before) < 30
    with (out / "coldstart.jsonl").open("a", encoding="utf-8") as torn:
        torn.write('{"id": "r29", "images": ["img/29_0.png"], "conversa')
    requests_before = len(chat_server.requests)

    summary = run(config)

    kept_ids = [record["id"] for record in jsonl(out / "coldstart.jsonl")]
    dropped_ids = [record["id"] for record in jsonl(out / "dropped.jsonl")]
    every_id = kept_ids + dropped_ids
    assert sorted(every_id) == sorted(f"r{index}" for index in range(30))
    assert set(dropped_ids) == {f"r{index}" for index in range(0, 30, 5)}
    redone = {question.split()[0] for question in chat_server.questions_asked()[requests_before:]}
    assert redone.isdisjoint({"q" + record_id[1:] for record_id in finished_before})
    assert summary["already_finished"] == len(finished_before)
    assert summary["totals"]["finished"] == 30
    assert "removed a half-written last line" in caplog.text


def test_unreadable_image_is_dropped_without_requests(
    tmp_path: Path,
    chat_server: Any,
    make_vqa: Callable[..., Path],
    make_config: Callable[..., dict[str, Any]],
    jsonl: Callable[[Path], list[dict[str, Any]]],
) -> None:
    vqa = make_vqa(["Broken?", "Fine?"])
    (vqa.parent / "img" / "0_0.png").write_bytes(b"truncated")
    summary = run(make_config(vqa, chat_server.url))
    (dropped,) = jsonl(tmp_path / "out" / "dropped.jsonl")
    assert (dropped["id"], dropped["stage"], dropped["reason"]) == ("r0", "images", "unreadable_image")
    assert summary["this_run"]["stages"]["images"] == {"started": 2, "succeeded": 1, "failed": 1}
    assert "q0 Broken?" not in chat_server.questions_asked()


def test_reply_filter_judges_concurrent_replies_in_turn(verifier: Verifier) -> None:
    config = FilterConfig(min_reasoning_chars=10)
    thinking = "Reading the card off the picture, the value is plain to see."
    replies = [ChatReply(f"The answer is \\boxed{{{value}}}.", thinking, "stop") for value in (10, 11, "x = 10", "1/2")]
    golds = ["10", "10", "10", "0.5"]
    examples = [Example(id=str(index), question="Which number?", answer=gold) for index, gold in enumerate(golds)]
    reply_filter = ReplyFilter(config, verifier)

    async def judge_all() -> list[str | None]:
        pairs = zip(replies, examples, strict=True)
        results = await asyncio.gather(*(reply_filter(reply, example) for reply, example in pairs))
        return [result.reason for result in results]

    assert asyncio.run(judge_all()) == [None, "wrong_answer", None, None]
