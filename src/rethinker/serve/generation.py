"""Generation for the server: one worker thread runs jobs in turn; admission is bounded; text streams as it is made."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
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


class GenerationJob:
    """One request's generation: its prompt and sampling settings in, a stream of `ChoiceDelta`s out."""

    def __init__(
        self, prompt: PromptInputs, params: SamplingParams, ignore_eos: bool = False, seed: int | None = None
    ) -> None:
        self.prompt = prompt
        self.params = params
        self.ignore_eos = ignore_eos
        self.seed = seed
        self.cancelled = threading.Event()
        self._events: queue.Queue[object] = queue.Queue()

    def emit(self, delta: ChoiceDelta) -> None:
        """Hand one delta to whoever reads the job (called from the worker thread)."""
        self._events.put(delta)

    def fail(self, error: BaseException) -> None:
        """End the job with an error the reader re-raises."""
        self._events.put(error)

    def close(self) -> None:
        """Mark the end of the job's events."""
        self._events.put(_END)

    def cancel(self) -> None:
        """Ask the worker to stop this job at the next token (the client went away, or the server stops)."""
        self.cancelled.set()

    def deltas(self) -> Iterator[ChoiceDelta]:
        """The job's deltas as they come; raises the job's error, or a 503 when it was cancelled unfinished."""
        finished = 0
        while True:
            event = self._events.get()
            if event is _END:
                break
            if isinstance(event, BaseException):
                raise event
            assert isinstance(event, ChoiceDelta)
            finished += event.finish_reason is not None
            yield event
        if finished < self.params.n:
            raise ApiError(503, "generation was cancelled before it finished", "server_shutdown")

    def result(self) -> list[Completion]:
        """Wait for every choice and return them in order."""
        texts = [""] * self.params.n
        ends: list[Completion | None] = [None] * self.params.n
        for delta in self.deltas():
            texts[delta.index] += delta.text
            if delta.finish_reason is not None:
                ends[delta.index] = Completion("", delta.token_count, delta.finish_reason)
        return [Completion(text, end.token_count, end.finish_reason) for text, end in zip(texts, ends, strict=True)]


class ChoiceStreamer(BaseStreamer):
    """Receives each step's sampled tokens from `generate` and emits per-choice text deltas; stops a choice at EOS."""

    def __init__(self, n: int, eos_id: int, decode: Callable[..., str], emit: Callable[[ChoiceDelta], None]) -> None:
        self.eos_id = eos_id
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
        """Finish every choice that has not met EOS: it ran out of tokens."""
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
        streamer = ChoiceStreamer(job.params.n, self.eos_id, self.processor.decode, job.emit)
        self.model.generate(
            **batch,
            generation_config=self._config(job.params),
            logits_processor=LogitsProcessorList([BlockTokens(blocked)]),
            stopping_criteria=[StopWhenCancelled(job.cancelled)],
            streamer=streamer,
        )


class GenerationWorker:
    """Runs jobs one at a time on a worker thread; at most `max_queue` jobs are admitted (running or waiting)."""

    def __init__(self, generator: Generator, max_queue: int) -> None:
        self.generator = generator
        self.max_queue = max_queue
        self._jobs: queue.Queue[GenerationJob | None] = queue.Queue()
        self._admitted: set[GenerationJob] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="rethinker-generation", daemon=True)

    @property
    def admitted(self) -> int:
        """How many jobs are running or waiting now."""
        with self._lock:
            return len(self._admitted)

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def submit(self, job: GenerationJob) -> None:
        """Queue a job, or raise a 503 at once when the queue is full or the server is stopping."""
        with self._lock:
            if self._closed:
                raise ApiError(503, "server is shutting down", "server_shutdown")
            if len(self._admitted) >= self.max_queue:
                raise busy()
            self._admitted.add(job)
        self._jobs.put(job)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every admitted job, let the running one stop at its next token, and join the thread."""
        with self._lock:
            self._closed = True
            for job in self._admitted:
                job.cancel()
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if not job.cancelled.is_set():
                    self.generator.run(job)
            except Exception as error:
                logger.exception("generation failed")
                job.fail(ApiError(500, f"generation failed: {error}", "server_error"))
            finally:
                with self._lock:
                    self._admitted.discard(job)
                job.close()
