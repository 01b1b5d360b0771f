"""The generation worker: bounded admission, in-order jobs, clean stop; the streamer's per-choice bookkeeping."""

from __future__ import annotations

import pytest
import torch

from rethinker.data.images import load_image
from rethinker.rollout.base import SamplingParams
from rethinker.serve.errors import ApiError
from rethinker.serve.generation import ChoiceDelta, ChoiceStreamer, GenerationJob, GenerationWorker, Generator


@pytest.fixture
def prompt(generator: Generator, png):
    processor = generator.processor
    text = processor.render([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}])
    return processor.encode(text, [load_image(png())])


def test_streamer_finishes_each_choice_once_with_its_reason(generator: Generator) -> None:
    processor = generator.processor
    eos = generator.eos_id
    hello = processor.tokenizer.encode("hi there", add_special_tokens=False)
    deltas: list[ChoiceDelta] = []
    streamer = ChoiceStreamer(2, eos, processor.decode, deltas.append)
    streamer.put(torch.zeros((2, 5), dtype=torch.long))
    for step, token in enumerate(hello):
        streamer.put(torch.tensor([token, eos if step == 1 else token]))
    streamer.put(torch.tensor([eos, generator.pad_id]))
    streamer.end()
    finals = {d.index: d for d in deltas if d.finish_reason is not None}
    assert finals[0].finish_reason == "stop" and finals[0].token_count == len(hello) + 1
    assert finals[1].finish_reason == "stop" and finals[1].token_count == 2
    assert "".join(d.text for d in deltas if d.index == 0) == "hi there"
    assert "".join(d.text for d in deltas if d.index == 1) == processor.decode(hello[:1])


def test_queue_bound_is_enforced_then_jobs_run_in_order(generator: Generator, prompt) -> None:
    worker = GenerationWorker(generator, max_queue=2)
    params = SamplingParams(max_new_tokens=4, temperature=0.0)
    jobs = [GenerationJob(prompt, params, ignore_eos=True) for _ in range(2)]
    for job in jobs:
        worker.submit(job)
    with pytest.raises(ApiError) as caught:
        worker.submit(GenerationJob(prompt, params))
    assert caught.value.status == 503 and caught.value.error_type == "server_busy"
    worker.start()
    results = [job.result() for job in jobs]
    assert [r[0].finish_reason for r in results] == ["length", "length"]
    assert [r[0].token_count for r in results] == [4, 4]
    assert results[0][0].text == results[1][0].text
    assert worker.admitted == 0
    worker.stop()
    with pytest.raises(ApiError) as after_stop:
        worker.submit(GenerationJob(prompt, params))
    assert after_stop.value.status == 503


def test_stop_cancels_waiting_jobs(generator: Generator, prompt) -> None:
    worker = GenerationWorker(generator, max_queue=3)
    job = GenerationJob(prompt, SamplingParams(max_new_tokens=4))
    worker.submit(job)
    worker.stop()
    worker.start()  # the thread drains the queue: the cancelled job ends unrun, then the stop marker ends the loop
    with pytest.raises(ApiError, match="cancelled"):
        job.result()
