"""The modality-bridging pipeline: pseudo chain of thought -> image description -> text reasoning -> filtering.

Records run concurrently; each finished record (kept or dropped) is appended to its file at once, so a restarted run
skips it and never loses, redoes or duplicates it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rethinker.chat.client import RETRYABLE_REASONS, ChatClient, ChatReply, ChatRequestError, user_message
from rethinker.coldstart.config import ColdstartConfig, FilterConfig
from rethinker.coldstart.filters import FilterResult, filter_reasoning
from rethinker.coldstart.images import image_data_url
from rethinker.coldstart.prompts import fill_template
from rethinker.coldstart.stats import RunStats, write_json_atomic
from rethinker.coldstart.store import JsonlLog
from rethinker.coldstart.vqa import plain_question, read_vqa_jsonl, sharegpt_record
from rethinker.data.errors import DataError
from rethinker.data.schema import Example
from rethinker.rewards.verify import Verifier

logger = logging.getLogger(__name__)

KEPT_FILE = "coldstart.jsonl"
DROPPED_FILE = "dropped.jsonl"
STATS_FILE = "stats.json"


class StageFailed(Exception):
    """A record dropped at `stage` for `reason`."""

    def __init__(self, stage: str, reason: str, detail: str) -> None:
        super().__init__(f"{stage}:{reason}: {detail}")
        self.stage = stage
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Finished:
    """A finished record: the line to write, and the drop reason (None when kept)."""

    record: dict[str, Any]
    drop_reason: str | None


async def ask(client: ChatClient, stage: str, text: str, image_urls: list[str], stats: RunStats) -> ChatReply:
    """One stage's request; a failed reply (an empty one included, after its retries) raises `StageFailed`."""
    stats.stage(stage, "started")
    try:
        reply = await client.complete([user_message(text, image_urls)])
    except ChatRequestError as error:
        stats.stage(stage, "failed")
        raise StageFailed(stage, error.reason, error.detail) from error
    stats.stage(stage, "succeeded")
    return reply


class ReplyFilter:
    """Stage 4 for concurrent records: one answer verifier, used by one record at a time off the event loop."""

    def __init__(self, config: FilterConfig, verifier: Verifier) -> None:
        self.config = config
        self.verifier = verifier
        self.lock = asyncio.Lock()

    async def __call__(self, reply: ChatReply, example: Example) -> FilterResult:
        """The filter verdict on a reasoning reply; its answer checks take at most their time limit each."""
        texts = (reply.content, reply.reasoning, reply.finish_reason)
        async with self.lock:
            return await asyncio.to_thread(filter_reasoning, *texts, example, self.config, self.verifier)


def reply_text(reply: ChatReply) -> str:
    """What an MLLM stage passes on: the reply's content, or its reasoning text when the content is empty."""
    return reply.content.strip() or reply.reasoning.strip()


async def bridge(
    example: Example,
    mllm: ChatClient,
    reasoner: ChatClient,
    reply_filter: ReplyFilter,
    config: ColdstartConfig,
    stats: RunStats,
) -> Finished:
    """Run the four stages on one example; every failure becomes a dropped record with its stage, reason and texts."""
    question = plain_question(example.question)
    trace: dict[str, str] = {}

    def dropped(stage: str, reason: str, detail: str) -> Finished:
        record = {"id": example.id, "stage": stage, "reason": reason, "detail": detail, **trace}
        return Finished(record, f"{stage}:{reason}")

    stats.stage("images", "started")
    try:
        image_urls = await asyncio.to_thread(
            lambda: [image_data_url(path, config.max_image_pixels) for path in example.images]
        )
    except (OSError, DataError) as error:
        stats.stage("images", "failed")
        return dropped("images", "unreadable_image", str(error))
    stats.stage("images", "succeeded")
    prompts = config.prompts
    try:
        cot_prompt = fill_template(prompts.pseudo_cot, question=question, answer=example.answer)
        trace["pseudo_cot"] = reply_text(await ask(mllm, "pseudo_cot", cot_prompt, image_urls, stats))
        description_prompt = fill_template(prompts.description, question=question, thinking_process=trace["pseudo_cot"])
        trace["description"] = reply_text(await ask(mllm, "description", description_prompt, image_urls, stats))
        reasoning_prompt = fill_template(prompts.reasoning, question=question, description=trace["description"])
        reply = await ask(reasoner, "reasoning", reasoning_prompt, [], stats)
    except StageFailed as failure:
        return dropped(failure.stage, failure.reason, failure.detail)
    trace.update(reasoning=reply.reasoning, content=reply.content)
    verdict = await reply_filter(reply, example)
    if verdict.reason is not None:
        stats.stage("filter", "failed")
        return dropped("filter", verdict.reason, verdict.detail)
    stats.stage("filter", "succeeded")
    return Finished(sharegpt_record(example, verdict.response), None)


def dropped_for_good(record: dict[str, Any]) -> bool:
    """Whether a dropped record stays dropped: a filter verdict or a lasting failure, not a transient request error."""
    return record.get("stage") == "filter" or record.get("reason") not in RETRYABLE_REASONS


def recover_finished(kept: JsonlLog, dropped: JsonlLog, stats: RunStats) -> set[str]:
    """Ids finished in earlier runs (after repairing torn last lines), counted into the totals.

    A record whose latest drop was transient (a timeout, an HTTP 5xx, an empty reply...) is not finished: the run
    tries it again, and counts how many such retries it starts in `stats.retried_drops`.
    """
    kept_ids = {str(record["id"]) for record in kept.recover()}
    latest_drop = {str(record["id"]): record for record in dropped.recover()}
    dropped_ids: set[str] = set()
    for record_id, record in latest_drop.items():
        if record_id in kept_ids:
            continue
        if not dropped_for_good(record):
            stats.retried_drops += 1
            continue
        dropped_ids.add(record_id)
        stats.total_drop_reasons[f"{record.get('stage')}:{record.get('reason')}"] += 1
    stats.total_kept = len(kept_ids)
    return kept_ids | dropped_ids


async def run_pipeline(config: ColdstartConfig) -> dict[str, Any]:
    """Process every unfinished record of the input; return (and write to stats.json) the run's counts."""
    examples = read_vqa_jsonl(config.input, config.image_root, config.limit)
    output_dir: Path = config.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    kept_log = JsonlLog(output_dir / KEPT_FILE, config.fsync)
    dropped_log = JsonlLog(output_dir / DROPPED_FILE, config.fsync)
    stats = RunStats(records=len(examples), already_finished=0)
    finished_ids = recover_finished(kept_log, dropped_log, stats)
    pending = [example for example in examples if example.id not in finished_ids]
    stats.already_finished = len(examples) - len(pending)
    logger.info(
        "coldstart: %d records, %d finished earlier, %d to do (%d dropped earlier for transient reasons, retried)",
        len(examples),
        stats.already_finished,
        len(pending),
        stats.retried_drops,
    )
    async with ChatClient("mllm", config.mllm) as mllm, ChatClient("reasoner", config.reasoner) as reasoner:
        verifier = Verifier(timeout_s=config.filters.verify_timeout_s)
        reply_filter = ReplyFilter(config.filters, verifier)

        def summary() -> dict[str, Any]:
            return stats.to_dict({"mllm": mllm.stats.to_dict(), "reasoner": reasoner.stats.to_dict()})

        queue = iter(pending)
        progress = tqdm(
            total=len(examples), initial=stats.already_finished, desc="coldstart", disable=not config.progress
        )

        async def worker() -> None:
            for example in queue:
                finished = await bridge(example, mllm, reasoner, reply_filter, config, stats)
                (kept_log if finished.drop_reason is None else dropped_log).append(finished.record)
                stats.finish(finished.drop_reason)
                progress.update()
                progress.set_postfix(kept=stats.total_kept, dropped=sum(stats.total_drop_reasons.values()))
                if stats.finished % config.stats_every == 0:
                    write_json_atomic(output_dir / STATS_FILE, summary())

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(config.records_in_flight, len(pending))):
                    group.create_task(worker())
        finally:
            verifier.close()
            progress.close()
            kept_log.close()
            dropped_log.close()
            result = summary()
            write_json_atomic(output_dir / STATS_FILE, result)
    totals = result["totals"]
    logger.info(
        "coldstart: kept %d, dropped %d this run; totals kept %d, dropped %d; drop reasons %s",
        stats.kept,
        result["this_run"]["dropped"],
        totals["kept"],
        totals["dropped"],
        totals["drop_reasons"],
    )
    return result
