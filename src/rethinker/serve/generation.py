"""Generation for the server: one worker thread runs jobs in turn; admission is bounded; text streams as it is made."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, LogitsProcessorList, PreTrainedModel, StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from rethinker.models.processor import PromptInputs, VisionProcessor
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import BlockTokens, collate_prompts
from rethinker.serve.decoding import IncrementalDecoder
from rethinker.serve.errors import ApiError, busy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChoiceDelta:
    """New text of one choice; `finish_reason` ("stop" or "length") is set on that choice's last delta only."""

    index: int
    text: str
    finish_reason: str | None = None
    token_count: int = 0


@dataclass(frozen=True)
class Completion:
    """One finished choice: its whole text, how many tokens it took, and why it ended."""

    text: str
    token_count: int
    finish_reason: str


_END = object()


def collect_completions(deltas: Iterable[ChoiceDelta], n: int) -> list[Completion]:
    """Join each choice's deltas into its completion, in choice order."""
    texts = [""] * n
    ends: list[Completion | None] = [None] * n
    for delta in deltas:
        texts[delta.index] += delta.text
        if delta.finish_reason is not None:
            ends[delta.index] = Completion("", delta.token_count, delta.finish_reason)
    return [Completion(text, end.token_count, end.finish_reason) for text, end in zip(texts, ends, strict=True)]


class GenerationJob:
    """One request's generation: its prompt and sampling settings in, a stream of `ChoiceDelta`s out.

    The worker thread writes events; a reader takes them either blocking (`deltas`) or from an event loop
    (`deltas_async`, after `bind_loop`), which the worker wakes without a thread per reader.
    """

    def __init__(
        self, prompt: PromptInputs, params: SamplingParams, ignore_eos: bool = False, seed: int | None = None
    ) -> None:
        self.prompt = prompt
        self.params = params
        self.ignore_eos = ignore_eos
        self.seed = seed
        self.cancelled = threading.Event()
        self._events: queue.Queue[object] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._finished = 0

    def bind_loop(self) -> None:
        """Let the running event loop read this job with `deltas_async` (call from that loop, before submitting)."""
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()

    def _put(self, event: object) -> None:
        self._events.put(event)
        if self._loop is not None and self._ready is not None:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the loop already closed: nobody reads any more
                pass

    def emit(self, delta: ChoiceDelta) -> None:
        """Hand one delta to whoever reads the job (called from the worker thread)."""
        self._put(delta)

    def fail(self, error: BaseException) -> None:
        """End the job with an error the reader re-raises."""
        self._put(error)

    def close(self) -> None:
        """Mark the end of the job's events."""
        self._put(_END)

    def cancel(self) -> None:
        """Ask the worker to stop this job at the next token (the client went away, or the server stops)."""
        self.cancelled.set()

    def _accept(self, event: object) -> ChoiceDelta | None:
        """The delta an event carries; None at the end; raises the job's error or a 503 if it ended unfinished."""
        if event is _END:
            if self._finished < self.params.n:
                raise ApiError(503, "generation was cancelled before it finished", "server_shutdown")
            return None
        if isinstance(event, BaseException):
            raise event
        assert isinstance(event, ChoiceDelta)
        self._finished += event.finish_reason is not None
        return event

    def deltas(self) -> Iterator[ChoiceDelta]:
        """The job's deltas as they come, blocking; raises the job's error, or a 503 when cancelled unfinished."""
        while (delta := self._accept(self._events.get())) is not None:
            yield delta

    async def deltas_async(self) -> AsyncIterator[ChoiceDelta]:
        """The job's deltas as they come, awaiting the worker without blocking the event loop."""
        assert self._ready is not None, "bind_loop() first"
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                self._ready.clear()
                await self._ready.wait()
                continue
            if (delta := self._accept(event)) is None:
                return
            yield delta

    def result(self) -> list[Completion]:
        """Wait for every choice and return them in order."""
        return collect_completions(self.deltas(), self.params.n)

    async def result_async(self) -> list[Completion]:
        """Await every choice and return them in order."""
        return collect_completions([delta async for delta in self.deltas_async()], self.params.n)


class ChoiceStreamer(BaseStreamer):
    """Receives each step's sampled tokens from `generate` and emits per-choice text deltas; stops a choice at EOS."""

    def __init__(
        self,
        n: int,
        eos_id: int,
        decode: Callable[..., str],
        emit: Callable[[ChoiceDelta], None],
        cancelled: threading.Event | None = None,
    ) -> None:
        self.eos_id = eos_id
        self.cancelled = cancelled
        self.emit = emit
        self.decoders = [IncrementalDecoder(decode) for _ in range(n)]
        self.counts = [0] * n
        self.done = [False] * n
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        """Take the prompt (first call, ignored) or one step's tokens, one per choice."""
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for index, token in enumerate(value.reshape(-1).tolist()):
            if self.done[index]:
                continue
            self.counts[index] += 1
            if token == self.eos_id:
                self._finish(index, "stop")
                continue
            text = self.decoders[index].push(token)
            if text:
                self.emit(ChoiceDelta(index, text))

    def end(self) -> None:
        """Finish every choice that has not met EOS: it ran out of tokens (a cancelled job's choices stay unfinished,
        so its reader learns it was cancelled rather than cut at a length)."""
        if self.cancelled is not None and self.cancelled.is_set():
            return
        for index, done in enumerate(self.done):
            if not done:
                self._finish(index, "length")

    def _finish(self, index: int, reason: str) -> None:
        self.done[index] = True
        self.emit(ChoiceDelta(index, self.decoders[index].flush(), reason, self.counts[index]))


class StopWhenCancelled(StoppingCriteria):
    """Stops generation for every row once the job is cancelled."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancelled.is_set(), dtype=torch.bool, device=input_ids.device)


class Generator:
    """The project's model and processor, generating `n` choices for one prompt with special tokens blocked."""

    def __init__(self, model: PreTrainedModel, processor: VisionProcessor) -> None:
        self.model = model.eval()
        self.processor = processor
        self.eos_id = int(processor.tokenizer.eos_token_id)
        pad_id = processor.tokenizer.pad_token_id
        self.pad_id = int(pad_id if pad_id is not None else self.eos_id)

    def _config(self, params: SamplingParams) -> GenerationConfig:
        sampling = params.temperature > 0
        return GenerationConfig(
            do_sample=sampling,
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature if sampling else None,
            top_p=params.top_p if sampling and params.top_p < 1.0 else None,
            top_k=params.top_k if sampling and params.top_k > 0 else None,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
        )

    @torch.no_grad()
    def run(self, job: GenerationJob) -> None:
        """Generate the job's choices, emitting deltas as tokens arrive."""
        if job.seed is not None:
            torch.manual_seed(job.seed)
        blocked = [i for i in self.processor.special_token_ids if i != self.eos_id]
        if job.ignore_eos:
            blocked.append(self.eos_id)
        batch = collate_prompts([job.prompt] * job.params.n, self.pad_id, self.model.config.image_token_id)
        batch = {key: value.to(self.model.device) for key, value in batch.items()}
        streamer = ChoiceStreamer(job.params.n, self.eos_id, self.processor.decode, job.emit, job.cancelled)
        self.model.generate(
            **batch,
            generation_config=self._config(job.params),
            logits_processor=LogitsProcessorList([BlockTokens(blocked)]),
            stopping_criteria=[StopWhenCancelled(job.cancelled)],
            streamer=streamer,
        )


class Ticket:
    """A place in the worker's queue: taken before a request's body is read, held by its job until the job ends."""

    def __init__(self) -> None:
        self.job: GenerationJob | None = None


class GenerationWorker:
    """Runs jobs one at a time on a worker thread; at most `max_queue` tickets are held (jobs running or waiting,
    and requests still being read and decoded)."""

    def __init__(self, generator: Generator, max_queue: int) -> None:
        self.generator = generator
        self.max_queue = max_queue
        self._tickets: queue.Queue[Ticket | None] = queue.Queue()
        self._admitted: set[Ticket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="rethinker-generation", daemon=True)

    @property
    def admitted(self) -> int:
        """How many tickets are held now (requests being prepared, jobs waiting or running)."""
        with self._lock:
            return len(self._admitted)

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def _take_ticket(self) -> Ticket:
        """A new ticket, or a 503 when the queue is full or the server is stopping (caller holds the lock)."""
        if self._closed:
            raise ApiError(503, "server is shutting down", "server_shutdown")
        if len(self._admitted) >= self.max_queue:
            raise busy()
        ticket = Ticket()
        self._admitted.add(ticket)
        return ticket

    @contextmanager
    def admission(self) -> Iterator[Ticket]:
        """Hold a place in the queue (503 at once when full) until a job is submitted with it or the block ends."""
        with self._lock:
            ticket = self._take_ticket()
        try:
            yield ticket
        finally:
            with self._lock:
                if ticket.job is None:
                    self._admitted.discard(ticket)

    def submit(self, job: GenerationJob, ticket: Ticket | None = None) -> None:
        """Queue a job on its ticket (a new one when none is given), or raise a 503 when full or stopping."""
        with self._lock:
            if ticket is None:
                ticket = self._take_ticket()
            if self._closed:
                self._admitted.discard(ticket)
                raise ApiError(
                    503, "server is shutting down: the request was cancelled before it ran", "server_shutdown"
                )
            ticket.job = job
        self._tickets.put(ticket)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every admitted job, let the running one stop at its next token, and join the thread."""
        with self._lock:
            self._closed = True
            for ticket in self._admitted:
                if ticket.job is not None:
                    ticket.job.cancel()
        self._tickets.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (ticket := self._tickets.get()) is not None:
            job = ticket.job
            assert job is not None
            try:
                if not job.cancelled.is_set():
                    self.generator.run(job)
            except Exception as error:
                logger.exception("generation failed")
                job.fail(ApiError(500, f"generation failed: {error}", "server_error"))
            finally:
                with self._lock:
                    self._admitted.discard(ticket)
                job.close()
