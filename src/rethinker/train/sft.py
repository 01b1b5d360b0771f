"""Supervised fine-tuning: token-mean NLL on assistant tokens, exact over each global batch, resumable.

One step: take the next conversations that fit `train.max_length` (over-long ones are skipped and counted), sort
them by length into micro-batches, accumulate gradients so the loss is the token mean over the whole global batch,
clip, step the optimizer and the schedule, log. Checkpoints hold the data position, optimizer, schedule and RNG.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from rethinker.config import dump_config
from rethinker.models.loading import DTYPES, load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.models.processor import mm_token_type_ids
from rethinker.sft_config import SFTConfig
from rethinker.telemetry import MetricsLogger, progress_bar
from rethinker.train.checkpoint import checkpoint_to_resume, load_trainer_state, save_checkpoint
from rethinker.train.datasets import DataStream
from rethinker.train.optim import build_optimizer
from rethinker.train.sft_data import (
    ConversationEncoder,
    ConversationTooLongError,
    EncodedConversation,
    SFTBatch,
    build_sft_records,
    collate,
    length_sorted_chunks,
    total_steps,
)
from rethinker.train.threads import ThreadGovernor
from rethinker.train.update import NonFiniteGuard, nonfinite_reason

log = logging.getLogger(__name__)


def trained_nll_sum(model: PreTrainedModel, batch: SFTBatch, autocast: str | None = None) -> torch.Tensor:
    """Summed negative log-likelihood of the trained tokens of a batch.

    The vocabulary projection is applied only at the positions that predict a trained token, so memory grows with
    the number of trained tokens, not with the whole (image-heavy) sequence. `autocast` names a lower precision to
    compute in while the weights (and the optimizer's updates) stay in their own dtype.
    """
    device = model.device
    inputs = {
        "input_ids": batch.input_ids.to(device),
        "attention_mask": batch.attention_mask.to(device),
        "use_cache": False,
    }
    if batch.pixel_values is not None:
        inputs["pixel_values"] = batch.pixel_values.to(device, dtype=model.dtype)
        inputs["image_grid_thw"] = batch.image_grid_thw.to(device)
        inputs["mm_token_type_ids"] = mm_token_type_ids(inputs["input_ids"], model.config.image_token_id)
    targets = batch.trained[:, 1:].to(device)
    with torch.autocast(device.type, dtype=DTYPES[autocast] if autocast else None, enabled=autocast is not None):
        hidden = model.model(**inputs).last_hidden_state
        logits = model.lm_head(hidden[:, :-1][targets]).float()
    return F.cross_entropy(logits, inputs["input_ids"][:, 1:][targets], reduction="sum")


class SFTTrainer:
    """Supervised fine-tuning of a vision-language model on conversations, resumable from its last checkpoint."""

    def __init__(self, config: SFTConfig) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.threads = ThreadGovernor(config.threads)
        checkpoint = checkpoint_to_resume(self.run_dir / "checkpoints", config.resume)
        (self.run_dir / "config.yaml").write_text(dump_config(config))
        model_cfg = config.model
        self.source = Path(checkpoint) if checkpoint is not None else resolve_model_path(model_cfg.path)
        self.model = load_model(self.source, model_cfg.dtype, model_cfg.trust_remote_code)
        if model_cfg.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.processor = load_processor(self.source, model_cfg.min_pixels, model_cfg.max_pixels)
        self.encoder = ConversationEncoder(self.processor, config.train.max_length)
        self.train_records, self.eval_records = build_sft_records(config.data, config.eval, config.seed)
        self.stream = DataStream(len(self.train_records), config.seed, config.data.shuffle)
        train = config.train
        self.total_steps = total_steps(train.epochs, train.steps, len(self.train_records), train.global_batch_size)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = build_optimizer(self.params, config.optim, self.total_steps)
        self.step = 0
        self.skipped_long = 0
        self.elapsed_s = 0.0
        self.last_checkpoint: tuple[int, Path] | None = None
        self.nonfinite = NonFiniteGuard(config.train.max_nonfinite_in_a_row)
        self.warned: set[str] = set()
        self.logger = MetricsLogger(
            self.run_dir, config.logging.tensorboard, config.logging.wandb_project if config.logging.wandb else None
        )
        if checkpoint is not None:
            self._restore(checkpoint)

    def _restore(self, checkpoint: Path) -> None:
        state = load_trainer_state(checkpoint)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stream.position = int(state["data_position"])
        self.step = int(state["step"])
        self.skipped_long = int(state["skipped_long"])
        self.elapsed_s = float(state["elapsed_s"])
        self.nonfinite.load_state_dict(state.get("nonfinite", {}))
        self.last_checkpoint = (self.step, checkpoint)
        torch.set_rng_state(state["rng"])
        self.logger.truncate_after(self.step)
        log.info("resumed from %s at step %d", checkpoint, self.step)

    def save(self) -> Path:
        """Checkpoint the model (Hugging Face format) and the trainer state.

        Processor files are copied from the newest checkpoint (or the starting model), which pruning never removes.
        """
        state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "data_position": self.stream.position,
            "skipped_long": self.skipped_long,
            "elapsed_s": self.elapsed_s,
            "nonfinite": self.nonfinite.state_dict(),
            "rng": torch.get_rng_state(),
        }
        path = save_checkpoint(
            self.run_dir / "checkpoints", self.step, self.model, self.source, state, self.config.checkpoint.keep
        )
        self.last_checkpoint = (self.step, path)
        self.source = path
        return path

    def next_batch(self) -> list[EncodedConversation]:
        """The next `global_batch_size` conversations that fit `max_length`; over-long ones are skipped and counted."""
        wanted = self.config.train.global_batch_size
        batch: list[EncodedConversation] = []
        misses = 0
        while len(batch) < wanted:
            for index in self.stream.take(wanted - len(batch)):
                record = self.train_records[index]
                try:
                    batch.append(self.encoder.encode(record))
                except ConversationTooLongError as exc:
                    self.skipped_long += 1
                    misses += 1
                    log.log(logging.DEBUG if record.id in self.warned else logging.WARNING, "skipping %s", exc)
                    self.warned.add(record.id)
            if not batch and misses >= len(self.train_records):
                raise ValueError(f"no training conversation fits train.max_length={self.config.train.max_length}")
        return batch

    def update(self, batch: list[EncodedConversation]) -> dict[str, float]:
        """One optimizer step on a global batch; the loss is the token mean over all its trained tokens."""
        pad_id = self.processor.tokenizer.pad_token_id
        total_tokens = sum(item.trained_tokens for item in batch)
        lr = self.optimizer.param_groups[0]["lr"]
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        nll_total = 0.0
        for chunk in length_sorted_chunks(batch, self.config.train.micro_batch_size):
            nll = trained_nll_sum(self.model, collate(chunk, pad_id), self.config.train.autocast)
            (nll / max(total_tokens, 1)).backward()
            nll_total += nll.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.optim.grad_clip)
        reason = nonfinite_reason(nll_total, float(grad_norm))
        if reason is None:
            self.optimizer.step()
        else:
            log.warning("skipping the update of step %d: %s", self.step + 1, reason)
            self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return {
            **self.nonfinite.record(reason is not None),
            "loss/sft": nll_total / max(total_tokens, 1),
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens/trained": float(total_tokens),
            "tokens/total": float(sum(item.length for item in batch)),
            "batch/size": float(len(batch)),
        }

    def train_step(self) -> dict[str, float]:
        """Encode the next global batch, update, and return the step's metrics with timings."""
        start = time.perf_counter()
        threads = self.threads.adjust()
        batch = self.next_batch()
        data_s = time.perf_counter() - start
        metrics = self.update(batch) | threads
        self.step += 1
        step_s = time.perf_counter() - start
        self.elapsed_s += step_s
        metrics.update(
            {
                "data/skipped_long": float(self.skipped_long),
                "data/epoch": self.stream.position / len(self.train_records),
                "time/data_s": data_s,
                "time/update_s": step_s - data_s,
                "time/step_s": step_s,
                "time/elapsed_s": self.elapsed_s,
            }
        )
        return metrics

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Token-mean NLL of the held-out conversations that fit `max_length`."""
        was_training = self.model.training
        self.model.eval()
        nll_total, tokens, skipped = 0.0, 0, 0
        size = self.config.train.micro_batch_size
        try:
            for start in range(0, len(self.eval_records), size):
                encoded = []
                for record in self.eval_records[start : start + size]:
                    try:
                        encoded.append(self.encoder.encode(record))
                    except ConversationTooLongError:
                        skipped += 1
                if encoded:
                    batch = collate(encoded, self.processor.tokenizer.pad_token_id)
                    nll = trained_nll_sum(self.model, batch, self.config.train.autocast)
                    nll_total += nll.item()
                    tokens += sum(item.trained_tokens for item in encoded)
        finally:
            self.model.train(was_training)
        return {"eval/loss": float(nll_total) / max(tokens, 1), "eval/skipped_long": float(skipped)}

    def should(self, every: int) -> bool:
        """Whether a periodic action (held-out loss, checkpoint) is due at the current step."""
        return every > 0 and (self.step % every == 0 or self.step == self.total_steps)

    def fit(self, stop_at: int | None = None) -> Path:
        """Train to the last step (or stop after step `stop_at`), evaluating and checkpointing on schedule.

        Returns the checkpoint of the step it stopped at: a Hugging Face model directory.
        """
        end = self.total_steps if stop_at is None else min(stop_at, self.total_steps)
        bar = progress_bar(self.total_steps, self.step, self.config.logging.progress, "sft")
        try:
            if self.step == 0 and self.config.eval.at_start and self.eval_records:
                self.logger.log(0, self.evaluate())
            while self.step < end:
                metrics = self.train_step()
                if self.eval_records and self.should(self.config.eval.every):
                    metrics.update(self.evaluate())
                self.logger.log(self.step, metrics)
                newest = self.last_checkpoint[1] if self.last_checkpoint is not None else None
                self.nonfinite.stop_if_diverged(self.step, newest, f"lower optim.lr (now {self.config.optim.lr:g})")
                if self.should(self.config.checkpoint.every) and not self.nonfinite.in_a_row:
                    self.save()
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss/sft']:.3f}")
            if self.last_checkpoint is not None and self.last_checkpoint[0] == self.step:
                return self.last_checkpoint[1]
            return self.save()
        finally:
            bar.close()
            self.logger.close()


def train_sft(config: SFTConfig) -> Path:
    """Run supervised fine-tuning to the end; returns the final checkpoint (a Hugging Face model directory)."""
    return SFTTrainer(config).fit()
