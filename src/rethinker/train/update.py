"""One policy update over a batch of samples: micro-batches, exact loss accumulation, clipping, optimizer step."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedModel

from rethinker.algo.kl import kl_estimate
from rethinker.algo.losses import aggregate, policy_loss
from rethinker.algo.nll import token_mean_nll
from rethinker.config import AlgoConfig
from rethinker.errors import UserError
from rethinker.train.distributed import rank_chunks, sum_across_ranks
from rethinker.train.logprobs import MicroBatch, PixelFn, collate, response_logprobs
from rethinker.train.samples import Sample


@dataclass(frozen=True)
class UpdateSettings:
    """What an update needs besides the samples: the loss recipe and how to batch."""

    algo: AlgoConfig
    micro_batch_size: int
    pad_id: int
    temperature: float
    grad_clip: float
    norm_len: float
    sft_coef: float = 0.0
    rank: int = 0
    world_size: int = 1


def micro_batches(samples: Sequence[Sample], size: int) -> list[list[Sample]]:
    """Length-sorted chunks of at most `size` samples, so padding inside a chunk stays small."""
    ordered = sorted(samples, key=lambda s: int(s.prompt_ids.numel()) + s.response_length)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def recompute_logprobs(
    model: PreTrainedModel,
    samples: Sequence[Sample],
    micro_batch_size: int,
    pad_id: int,
    pixels: PixelFn,
    temperature: float,
) -> None:
    """Replace each sample's `old_logprobs` by the model's, with the update's forward pass under no_grad."""
    with torch.no_grad():
        for chunk in micro_batches(samples, micro_batch_size):
            logprobs = response_logprobs(model, collate(chunk, pad_id, pixels), temperature).cpu()
            for row, sample in enumerate(chunk):
                sample.old_logprobs = logprobs[row, : sample.response_length].clone()


def logprob_gap(engine: Sequence[torch.Tensor], trainer: Sequence[torch.Tensor]) -> dict[str, float]:
    """`rollout/logprob_gap_mean` and `_max`: |engine - trainer| over the response tokens where both are finite."""
    gaps = [(e.float() - t.float()).abs() for e, t in zip(engine, trainer, strict=True)]
    flat = torch.cat([g[torch.isfinite(g)] for g in gaps]) if gaps else torch.zeros(0)
    return {
        "rollout/logprob_gap_mean": float(flat.mean()) if flat.numel() else 0.0,
        "rollout/logprob_gap_max": float(flat.max()) if flat.numel() else 0.0,
    }


def share(chunk: MicroBatch, total_tokens: float, total_seqs: int, mode: str) -> float:
    """The weight that turns a chunk's own aggregate into its exact part of the whole batch's aggregate."""
    if mode == "token-mean":
        return float(chunk.response_mask.sum()) / max(total_tokens, 1.0)
    return chunk.response_mask.shape[0] / max(total_seqs, 1)


class NonFiniteTrainingError(UserError):
    """Too many updates in a row had a non-finite loss, gradient or advantage: the run stops, checkpoints kept."""


@dataclass
class NonFiniteGuard:
    """Counts updates skipped as non-finite; `limit` of them in a row stop the run."""

    limit: int
    in_a_row: int = 0
    skipped: int = 0

    def record(self, skipped: bool) -> dict[str, float]:
        """Count one update; returns `train/nonfinite` (this step) and `train/skipped_nonfinite` (in all)."""
        self.in_a_row = self.in_a_row + 1 if skipped else 0
        self.skipped += int(skipped)
        return {"train/nonfinite": float(skipped), "train/skipped_nonfinite": float(self.skipped)}

    def stop_if_diverged(self, step: int, newest: Path | None, advice: str) -> None:
        """Raise `NonFiniteTrainingError` once `limit` updates in a row were skipped, naming the checkpoint kept."""
        if self.in_a_row < self.limit:
            return
        kept = f"the newest checkpoint, {newest}, is kept" if newest is not None else "no checkpoint was saved"
        raise NonFiniteTrainingError(
            f"training stopped at step {step}: {self.in_a_row} updates in a row had a non-finite loss, gradient or"
            f" advantage (train.max_nonfinite_in_a_row={self.limit}); {kept}; {advice}"
        )

    def state_dict(self) -> dict[str, int]:
        """The counters a resume restores."""
        return {"in_a_row": self.in_a_row, "skipped": self.skipped}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore the counters (absent in checkpoints written before they existed)."""
        self.in_a_row = int(state.get("in_a_row", 0))
        self.skipped = int(state.get("skipped", 0))


def nonfinite_reason(loss: float, grad_norm: float) -> str | None:
    """Why an update must be skipped ("loss nan", "grad norm inf"...), or None when loss and gradient are finite."""
    problems = [
        f"{name} {value}" for name, value in (("loss", loss), ("grad norm", grad_norm)) if not math.isfinite(value)
    ]
    return ", ".join(problems) or None


def policy_update(
    model: PreTrainedModel,
    ref_model: PreTrainedModel | None,
    samples: Sequence[Sample],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    pixels: PixelFn,
    settings: UpdateSettings,
) -> dict[str, float]:
    """Run `update_epochs` passes over `samples`, one optimizer step per pass; returns loss, gradient and time metrics.

    Every rank passes the same global batch and computes its own micro-batches, weighted by their share of the global
    batch, so the sum of the ranks' gradients is the single-process gradient (FSDP averages across ranks, hence the
    loss is scaled by the world size); the metrics are summed across ranks likewise. A pass whose loss or gradient
    norm is not finite changes nothing (no optimizer step) and sets `train/nonfinite` to 1.
    """
    algo = settings.algo
    totals = {"loss/policy": 0.0, "loss/kl": 0.0, "loss/sft": 0.0, "policy/clip_frac": 0.0, "policy/ratio_mean": 0.0}
    grad_norm = torch.tensor(0.0)
    chunks = rank_chunks(micro_batches(samples, settings.micro_batch_size), settings.rank, settings.world_size)
    total_tokens = float(sum(s.response_length for s in samples))
    sft_selected = {id(s) for s in samples if s.accepted_rethink and s.advantage > 0}
    sft_tokens = float(sum(s.response_length for s in samples if id(s) in sft_selected))
    timers = {"time/forward_s": 0.0, "time/backward_s": 0.0, "time/optimizer_s": 0.0}
    skipped: list[str] = []
    model.train()
    for _ in range(algo.update_epochs):
        optimizer.zero_grad(set_to_none=True)
        epoch_loss = 0.0
        for chunk_samples, scale in chunks:
            started = time.perf_counter()
            batch = collate(chunk_samples, settings.pad_id, pixels)
            weight = share(batch, total_tokens, len(samples), algo.loss_agg) * scale
            logp = response_logprobs(model, batch, settings.temperature)
            device = logp.device
            mask = batch.response_mask.to(device)
            loss, stats = policy_loss(
                logp,
                batch.old_logprobs.to(device),
                batch.advantages.to(device),
                mask,
                algo.eps_low,
                algo.eps_high,
                algo.loss_agg,
                settings.norm_len,
            )
            total = loss * weight
            totals["loss/policy"] += loss.item() * weight
            totals["policy/clip_frac"] += stats["clip_frac"] * weight
            totals["policy/ratio_mean"] += stats["ratio_mean"] * weight
            if ref_model is not None and algo.kl_coef > 0:
                with torch.no_grad():
                    ref_logp = response_logprobs(ref_model, batch, settings.temperature)
                kl = aggregate(kl_estimate(logp, ref_logp, algo.kl_type), mask, algo.loss_agg, settings.norm_len)
                total = total + algo.kl_coef * kl * weight
                totals["loss/kl"] += kl.item() * weight
            if settings.sft_coef > 0 and sft_tokens > 0:
                selected = torch.tensor(
                    [id(s) in sft_selected for s in chunk_samples], dtype=torch.float32, device=device
                )
                chunk_sft_tokens = float((mask * selected[:, None]).sum())
                if chunk_sft_tokens > 0:
                    nll = token_mean_nll(logp, mask, selected) * (chunk_sft_tokens / sft_tokens) * scale
                    total = total + settings.sft_coef * nll
                    totals["loss/sft"] += settings.sft_coef * nll.item()
            backward_start = time.perf_counter()
            timers["time/forward_s"] += backward_start - started
            epoch_loss += float(total.detach())
            (total * settings.world_size).backward()
            timers["time/backward_s"] += time.perf_counter() - backward_start
        optimizer_start = time.perf_counter()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        reason = nonfinite_reason(epoch_loss, float(_full(grad_norm)))
        if reason is None:
            optimizer.step()
        else:
            skipped.append(reason)
            optimizer.zero_grad(set_to_none=True)
        timers["time/optimizer_s"] += time.perf_counter() - optimizer_start
    scheduler.step()
    epochs = algo.update_epochs
    metrics = {key: value / epochs for key, value in sum_across_ranks(totals).items()}
    metrics["grad_norm"] = float(_full(grad_norm))
    metrics["lr"] = scheduler.get_last_lr()[0]
    metrics["train/nonfinite"] = float(bool(skipped))
    return {**metrics, **timers}


def _full(tensor: torch.Tensor) -> torch.Tensor:
    """A distributed tensor gathered whole (a plain tensor as it is)."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
