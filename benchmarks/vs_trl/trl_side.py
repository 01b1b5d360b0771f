"""The TRL side: `trl.GRPOTrainer` on the shared settings, with rethinker's accuracy reward, timed step by step.

Usage (the driver calls it): python trl_side.py SPEC_JSON RESULT_PATH
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from rethinker.data.schema import Example
from rethinker.rewards.registry import get_reward_fn, score_batch
from rethinker.rewards.verify import Verifier
from transformers import (
    AutoModelForImageTextToText,
    AutoTokenizer,
    PrinterCallback,
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessorPil,
    TrainerCallback,
)
from trl import GRPOConfig, GRPOTrainer

from bench_common import (
    ADAM_BETAS,
    CLIP_EPS,
    GRAD_CLIP,
    LEARNING_RATE,
    SEED,
    RunResult,
    RunSpec,
    StepRecord,
    peak_rss_mb,
    prompt_text,
    side_main,
    train_examples,
    wait_for_verifier,
)


class ImageOnlyProcessor(Qwen2_5_VLProcessor):
    """Qwen2.5-VL's processor without its video processor, which needs torchvision (not installed: see setup.sh)."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None) -> None:
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template)

    @classmethod
    def load(cls, model_dir: str) -> ImageOnlyProcessor:
        """The checkpoint's tokenizer, chat template and Pillow image processor (the same one rethinker uses)."""
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(model_dir)
        return cls(image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template)


class StepTimer(TrainerCallback):
    """Wall and CPU time of each optimizer step (generation, reward, loss, backward, update) and its tokens."""

    def __init__(self) -> None:
        self.started = (0.0, 0.0)
        self.seconds: list[tuple[float, float]] = []
        self.mean_lengths: list[float] = []

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the clock for this step."""
        self.started = (time.perf_counter(), time.process_time())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stop the clock after the optimizer step (before the trainer's own logging)."""
        self.seconds.append((time.perf_counter() - self.started[0], time.process_time() - self.started[1]))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        """Keep the mean completion length TRL logs for each step."""
        if logs and "completions/mean_length" in logs:
            self.mean_lengths.append(float(logs["completions/mean_length"]))


def completion_text(completion: str | list[dict[str, Any]]) -> str:
    """The assistant text of a TRL completion (a plain string, or a conversational message list)."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content)


def accuracy_reward(examples: Sequence[Example], verifier: Verifier) -> Callable[..., list[float]]:
    """rethinker's `accuracy` reward as a TRL reward function; rows name their example by `example_index`."""
    reward_fn = get_reward_fn("accuracy")

    def accuracy(prompts: list, completions: list, example_index: list[int], **kwargs: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        results = score_batch(reward_fn, texts, [examples[i] for i in example_index], verifier)
        return [float(result.reward) for result in results]

    return accuracy


def build_dataset(examples: Sequence[Example]) -> Dataset:
    """Conversational prompts with an image column (TRL puts the image before the text, like rethinker)."""
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": prompt_text(example)}] for example in examples],
            "image": [example.images[0] for example in examples],
            "example_index": list(range(len(examples))),
        }
    )


def grpo_config(spec: RunSpec, processor: Any, image_token_id: int) -> GRPOConfig:
    """TRL settings equal to the rethinker side: one generation of 16 samples feeds exactly one optimizer step."""
    batch = spec.batch_size
    return GRPOConfig(
        output_dir=str(Path(spec.work_dir) / "trl-run"),
        seed=SEED,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=spec.group_size,
        num_iterations=1,
        max_steps=spec.steps,
        max_completion_length=spec.max_new_tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        generation_kwargs={"suppress_tokens": [image_token_id, processor.tokenizer.eos_token_id]},
        beta=0.0,
        epsilon=CLIP_EPS,
        loss_type="dapo",
        scale_rewards="group",
        learning_rate=LEARNING_RATE,
        lr_scheduler_type="constant",
        adam_beta1=ADAM_BETAS[0],
        adam_beta2=ADAM_BETAS[1],
        weight_decay=0.0,
        max_grad_norm=GRAD_CLIP,
        shuffle_dataset=False,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )


def run(spec: RunSpec) -> RunResult:
    """Train `spec.steps` steps with TRL and record each step's time and the tokens generated for it."""
    torch.set_num_threads(spec.threads)
    examples = train_examples(spec.image_tokens)
    processor = ImageOnlyProcessor.load(spec.model_dir)
    model = AutoModelForImageTextToText.from_pretrained(spec.model_dir, dtype=torch.float32)
    timer = StepTimer()
    with Verifier(workers=1, timeout_s=2.0) as verifier:
        wait_for_verifier(verifier)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[accuracy_reward(examples, verifier)],
            args=grpo_config(spec, processor, model.config.image_token_id),
            train_dataset=build_dataset(examples),
            processing_class=processor,
            callbacks=[timer],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    records = [
        StepRecord(seconds, cpu_seconds, round(length * spec.batch_size))
        for (seconds, cpu_seconds), length in zip(timer.seconds, timer.mean_lengths, strict=True)
    ]
    return RunResult(spec, records, peak_rss_mb())


if __name__ == "__main__":
    sys.exit(side_main(run, sys.argv[1:]))
