"""Answer extraction by an LLM judge behind any OpenAI-compatible endpoint, the way MathVista and MathVerse officially
extract answers, with the benchmark's rule-based reader as the fallback.

The judge is asked (see `judge_prompts`) for the final answer a response states; the answer, written as
"The final answer is $\\boxed{...}$", is then scored by the benchmark's own rules, so the comparison with the gold
answer stays the official one. Requests go through the project's chat client (bounded concurrency, time, size and
counted retries); replies are cached on disk (`judge_cache`). A request that fails for good, or a reply that is empty
or too long to be an answer, falls back to the rules. Each sample records its extractor: `judge`, `rules` (no judge)
or `rules-fallback`. The API key is read from the named environment variable and only ever sent as a header.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from rethinker.chat.client import ChatClient, ChatRequestError, RequestStats
from rethinker.chat.endpoint import EndpointConfig
from rethinker.data.schema import Example
from rethinker.errors import UserError
from rethinker.eval.judge_cache import JudgeCache, reply_key
from rethinker.eval.judge_prompts import extraction_messages
from rethinker.eval.outputs import EXTRACTOR_KEY
from rethinker.eval.suites.base import Benchmark, ScoredSample
from rethinker.models.loading import cache_dir

JUDGE_EXTRACTOR = "judge"
FALLBACK_EXTRACTOR = "rules-fallback"
MAX_ANSWER_CHARS = 200
"""A longer reply is not an extracted answer (the judge solved or rambled): the rules read that response instead."""
JUDGE_MAX_TOKENS = 128
ANSWER_PREFIX = "extracted answer:"


class JudgeError(UserError):
    """Judge settings that cannot be used (a bad URL, a missing API key variable)."""


@dataclass(frozen=True)
class JudgeSettings:
    """Where the judge is and how to ask it: URL, model, key variable, concurrency, retries, time limit, cache."""

    url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 8
    attempts: int = 3
    timeout_s: float = 120.0
    cache: Path | None = None

    def endpoint(self) -> EndpointConfig:
        """The chat client's endpoint settings: greedy, short replies, backoff within seconds."""
        try:
            return EndpointConfig(
                base_url=self.url,
                model=self.model,
                api_key_env=self.api_key_env,
                temperature=0.0,
                top_p=1.0,
                max_tokens=JUDGE_MAX_TOKENS,
                max_concurrency=self.concurrency,
                timeout_s=self.timeout_s,
                max_attempts=self.attempts,
                backoff_base_s=0.5,
                backoff_max_s=10.0,
                max_response_bytes=1024 * 1024,
            )
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise JudgeError(f"--judge settings: {problems}") from error

    def cache_path(self) -> Path:
        """The reply cache file: as given, else one shared file in the project's cache folder."""
        return self.cache or cache_dir() / "judge" / "replies.jsonl"

    def public_url(self) -> str:
        """The URL without user name, password, query or fragment (what results may show)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def answer_of(reply: str) -> str | None:
    """The answer in a judge reply: its first non-empty line without an "Extracted answer:" prefix; None if unusable."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    answer = lines[0]
    if answer.lower().startswith(ANSWER_PREFIX):
        answer = answer[len(ANSWER_PREFIX) :].strip()
    return answer if 0 < len(answer) <= MAX_ANSWER_CHARS else None


def boxed_statement(answer: str) -> str:
    """The judge's answer written as a response the benchmark's rules read unambiguously."""
    return f"The final answer is $\\boxed{{{answer}}}$."


class AnswerJudge:
    """Asks the judge for the answers of many responses at once; remembers replies and failures by request key."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint()
        if settings.api_key_env and not os.environ.get(settings.api_key_env):
            raise JudgeError(f"--judge-api-key-env: environment variable {settings.api_key_env} is not set")
        self.cache = JudgeCache(settings.cache_path())
        self.failures: dict[str, str] = {}
        self.stats = RequestStats()
        self.cache_hits = 0

    def messages(self, benchmark: Benchmark, response: str, example: Example) -> list[dict[str, str]]:
        """The extraction request for one response, with the benchmark's own question (its hint and choices)."""
        return extraction_messages(benchmark.NAME, benchmark.build_prompt(example, None), response)

    def key(self, messages: list[dict[str, str]]) -> str:
        """The cache key of a request."""
        return reply_key(self.settings.model, messages)

    def prefetch(self, requests: Sequence[list[dict[str, str]]]) -> None:
        """Ask the judge every request not yet answered or failed, concurrently (bounded), and remember the replies."""
        todo: dict[str, list[dict[str, str]]] = {}
        for messages in requests:
            key = self.key(messages)
            if self.cache.get(key) is not None:
                self.cache_hits += 1
            elif key not in self.failures:
                todo[key] = messages
        if todo:
            asyncio.run(self._ask_all(todo))

    async def _ask_all(self, todo: dict[str, list[dict[str, str]]]) -> None:
        """Send the requests through one client (its own event loop); each reply is cached as soon as it arrives."""
        async with ChatClient("judge", self.endpoint) as client:
            try:
                await asyncio.gather(*(self._ask(client, key, messages) for key, messages in todo.items()))
            finally:
                self._merge(client.stats)

    async def _ask(self, client: ChatClient, key: str, messages: list[dict[str, str]]) -> None:
        """One request: its reply goes to the cache, a final failure to `failures` with its reason."""
        try:
            reply = await client.complete(messages)
        except ChatRequestError as error:
            self.failures[key] = error.reason
        else:
            self.cache.put(key, reply.content)

    def _merge(self, stats: RequestStats) -> None:
        """Add one client's request counts to the judge's."""
        self.stats.requests += stats.requests
        self.stats.attempts += stats.attempts
        self.stats.succeeded += stats.succeeded
        self.stats.failed_attempts.update(stats.failed_attempts)
        self.stats.failed_requests.update(stats.failed_requests)

    def answer(self, messages: list[dict[str, str]]) -> tuple[str | None, str | None]:
        """(answer, None) from the judge's reply, or (None, why the judge gave none)."""
        key = self.key(messages)
        if self.cache.get(key) is None and key not in self.failures:
            self.prefetch([messages])
        reply = self.cache.get(key)
        if reply is None:
            return None, self.failures.get(key, "no_reply")
        answer = answer_of(reply)
        return (answer, None) if answer is not None else (None, "unusable_reply")

    def report(self) -> dict[str, Any]:
        """What `results.json` records about the judge (never the key)."""
        return {
            "url": self.settings.public_url(),
            "model": self.settings.model,
            "cache": str(self.cache.path),
            "cache_hits": self.cache_hits,
            **self.stats.to_dict(),
        }


class JudgedBenchmark:
    """A benchmark whose answers are extracted by the judge; the benchmark's own rules compare them with the gold."""

    def __init__(self, benchmark: Benchmark, judge: AnswerJudge) -> None:
        self.benchmark = benchmark
        self.judge = judge
        self.NAME = benchmark.NAME
        self.EXTRACTION_NOTE = (
            f"Answers extracted by the LLM judge {judge.settings.model!r} (falling back to the rules where it "
            f"failed), then compared by the official rules. Rules: {benchmark.EXTRACTION_NOTE}"
        )
        self.fallback_reasons: Counter[str] = Counter()

    def load(self, path: Path, limit: int | None = None) -> list[Example]:
        """The benchmark's problems."""
        return self.benchmark.load(path, limit)

    def build_prompt(self, example: Example, template: str | None = None) -> str:
        """The benchmark's prompt."""
        return self.benchmark.build_prompt(example, template)

    def aggregate(self, examples: Sequence[Example], scored: Sequence[ScoredSample]) -> dict[str, Any]:
        """The benchmark's aggregate."""
        return self.benchmark.aggregate(examples, scored)

    def prefetch(self, items: Sequence[tuple[str, Example]]) -> None:
        """Extract the answers of many responses at once."""
        self.judge.prefetch([self.judge.messages(self.benchmark, response, example) for response, example in items])

    def score(self, response: str, example: Example) -> ScoredSample:
        """The judge's answer scored by the benchmark's rules; the rules alone when the judge gave none."""
        answer, failure = self.judge.answer(self.judge.messages(self.benchmark, response, example))
        if answer is None:
            self.fallback_reasons[str(failure)] += 1
            sample = self.benchmark.score(response, example)
            details = {**sample.details, EXTRACTOR_KEY: FALLBACK_EXTRACTOR, "judge_failure": failure}
            return replace(sample, details=details)
        sample = self.benchmark.score(boxed_statement(answer), example)
        details = {**sample.details, EXTRACTOR_KEY: JUDGE_EXTRACTOR, "judge_answer": answer}
        return replace(sample, response=response, extracted=answer, details=details)


def scoring_benchmark(benchmark: Benchmark, judge: JudgeSettings | None) -> Benchmark:
    """The benchmark itself (rule-based extraction), or wrapped with the judge when `judge` is given."""
    return benchmark if judge is None else JudgedBenchmark(benchmark, AnswerJudge(judge))


def judge_report(scoring: Benchmark) -> dict[str, Any]:
    """The `judge` section of the results when answers went through the judge, else nothing."""
    if not isinstance(scoring, JudgedBenchmark):
        return {}
    return {"judge": {**scoring.judge.report(), "fallback_reasons": dict(scoring.fallback_reasons)}}
