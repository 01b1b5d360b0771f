"""The RL loop; one step reads like the pipeline: rollout -> rethink -> reward -> advantages -> replay -> update."""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import torch

from rethinker.algo.advantages import group_advantages, group_stats
from rethinker.config import ConfigError, RLConfig, RolloutConfig, dump_config, stage_at
from rethinker.data.errors import DataError
from rethinker.models.processor import PromptTooLongError
from rethinker.models.prompt_bank import PromptBank
from rethinker.models.prompts import resolve_template
from rethinker.rewards.extract import count_waits
from rethinker.rewards.registry import get_reward_fn, score_batch
from rethinker.rewards.shaping import shaped_reward
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import Generation, SamplingParams, groups_per_batch
from rethinker.telemetry import MetricsLogger, flag_no_signal, progress_bar, progress_fields
from rethinker.train.checkpoint import (
    checkpoint_to_resume,
    latest_checkpoint,
    load_trainer_state,
    save_checkpoint,
)
from rethinker.train.datasets import DataStream, build_datasets
from rethinker.train.distributed import (
    SilentLogger,
    barrier,
    copy_weights,
    gather_lists,
    init_distributed,
    load_optimizer_state,
    mean_across_ranks,
    optimizer_state,
    shard_bounds,
    shutdown,
)
from rethinker.train.evaluate import evaluate
from rethinker.train.optim import build_optimizer
from rethinker.train.policy import Policy, load_policy
from rethinker.train.replay_modes import UpdateBatch, batch_metrics, build_replay_mode
from rethinker.train.resume_config import CONFIG_FILE, check_resume_config, record_config_changes
from rethinker.train.rethink_stage import RethinkStage
from rethinker.train.samples import Sample
from rethinker.train.threads import ThreadGovernor
from rethinker.train.update import NonFiniteGuard, UpdateSettings, logprob_gap, policy_update, recompute_logprobs

log = logging.getLogger(__name__)


def nonfinite_samples(samples: list[Sample]) -> str | None:
    """Why a batch cannot train ("advantage nan"...), or None when every reward and advantage is finite."""
    for name in ("reward", "advantage"):
        bad = [getattr(s, name) for s in samples if not math.isfinite(getattr(s, name))]
        if bad:
            return f"{len(bad)} {name}s like {bad[0]}"
    return None


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """A seed for one step's random draws, so a resumed run draws exactly what an uninterrupted one would."""
    return (seed * 1_000_003 + step * 9_176 + stream) % (2**63)


class GRPOTrainer:
    """Group-relative policy optimisation of a vision-language model, resumable from its last checkpoint."""

    def __init__(self, config: RLConfig) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dist = init_distributed(config.distributed.backend, config.distributed.timeout_s)
        self.seed_per_query = config.distributed.seed_per_query or self.dist.active
        if self.dist.world_size > config.train.queries_per_episode:
            raise ConfigError(
                f"train.queries_per_episode={config.train.queries_per_episode}: {self.dist.world_size} ranks need at "
                f"least {self.dist.world_size}"
            )
        torch.manual_seed(config.seed)
        self.threads = ThreadGovernor(config.threads)
        checkpoint = checkpoint_to_resume(self.run_dir / "checkpoints", config.resume)
        self.config_changes = check_resume_config(self.run_dir, config) if checkpoint is not None else {}
        train, held_out, self.data_counts = build_datasets(config.data, config.seed)
        self.reward_fn = get_reward_fn(config.reward.fn)
        resolve_template(config.prompt.template)  # a bad template is reported before the model loads
        self.policy: Policy = load_policy(config, checkpoint, self.dist)
        prompt = config.prompt
        pixel_cache_bytes = config.data.pixel_cache_mb * 1024 * 1024
        self.train_bank = PromptBank(
            self.policy.processor,
            train,
            prompt.template,
            prompt.system,
            prompt.max_prompt_tokens,
            pixel_cache_bytes=pixel_cache_bytes,
        )
        self.eval_bank = PromptBank(
            self.policy.processor,
            held_out[: config.eval.size],
            prompt.template,
            prompt.system,
            prompt.max_prompt_tokens,
            pixel_cache_bytes=pixel_cache_bytes,
        )
        self.stream = DataStream(len(train), config.seed, config.data.shuffle)
        self.verifier = Verifier(workers=config.reward.workers, timeout_s=config.reward.timeout_s)
        params = [p for p in self.policy.model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = build_optimizer(params, config.optim, config.train.steps)
        self.replay = build_replay_mode(config.replay, config.train.update_batch_size, config.seed)
        self.rethinker = RethinkStage(
            config.rethink, self.policy.processor, self.policy.engine, config.rollout.max_new_tokens
        )
        self.pending: list[UpdateBatch] = []
        self.episode_metrics: dict[str, float] = {}
        self.step = 0
        self.skipped_prompts = 0
        self.skipped_examples = 0
        self.nonfinite = NonFiniteGuard(config.train.max_nonfinite_in_a_row)
        self.saved_step: int | None = None
        self.eval_bank_checked = False
        self.eval_skipped = 0
        self.samples_generated = 0
        self.logger = (
            MetricsLogger(
                self.run_dir, config.logging.tensorboard, config.logging.wandb_project if config.logging.wandb else None
            )
            if self.dist.is_main
            else SilentLogger()
        )
        if checkpoint is not None:
            self._restore(checkpoint)
        elif self.dist.is_main:
            self._start_clean()
        if self.dist.is_main:
            record_config_changes(self.run_dir, config, self.step, self.config_changes)
            (self.run_dir / CONFIG_FILE).write_text(dump_config(config))

    def _start_clean(self) -> None:
        """A fresh run: set aside metric rows an earlier run left without a checkpoint, so no step is logged twice."""
        moved = self.logger.set_aside()
        if moved is not None:
            log.warning(
                "%s holds no checkpoint: starting at step 0; the earlier rows were moved to %s", self.run_dir, moved
            )

    def _restore(self, checkpoint: Path) -> None:
        state = load_trainer_state(checkpoint)
        load_optimizer_state(self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stream.position = int(state["data_position"])
        self.step = int(state["step"])
        self.skipped_prompts = int(state["skipped_prompts"])
        self.samples_generated = int(state["samples_generated"])
        self.skipped_examples = int(state.get("skipped_examples", 0))
        self.nonfinite.load_state_dict(state.get("nonfinite", {}))
        self.saved_step = self.step
        self.episode_metrics = dict(state["episode_metrics"])
        self.pending = [
            UpdateBatch([Sample.from_state(s) for s in batch["samples"]], list(batch["replayed"]))
            for batch in state["pending"]
        ]
        self.replay.load_state_dict(state["replay"])
        self.logger.truncate_after(self.step)
        log.info("resumed from %s at step %d", checkpoint, self.step)

    def _state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": optimizer_state(self.optimizer, keep=self.dist.is_main),
            "scheduler": self.scheduler.state_dict(),
            "data_position": self.stream.position,
            "skipped_prompts": self.skipped_prompts,
            "samples_generated": self.samples_generated,
            "skipped_examples": self.skipped_examples,
            "nonfinite": self.nonfinite.state_dict(),
            "episode_metrics": self.episode_metrics,
            "pending": [
                {"samples": [s.to_state() for s in batch.samples], "replayed": batch.replayed} for batch in self.pending
            ],
            "replay": self.replay.state_dict(),
        }

    def save(self) -> Path:
        """Checkpoint the model (Hugging Face format) and the trainer state at the current step.

        Later checkpoints copy the processor files from this one, so pruning older checkpoints never loses them.
        Under torchrun every rank gathers the state and rank 0 alone writes it. A step is saved once; while updates are
        being skipped as non-finite nothing is saved, so the newest checkpoint stays the last good one.
        """
        path = self.run_dir / "checkpoints" / f"step-{self.step}"
        if self.saved_step == self.step:
            return path
        newest = latest_checkpoint(self.run_dir / "checkpoints") if self.nonfinite.in_a_row else None
        if newest is not None:
            log.warning(
                "not saving step %d: its update was skipped as non-finite; %s stays the newest", self.step, newest
            )
            return newest
        state = self._state()
        if self.dist.is_main:
            path = save_checkpoint(
                self.run_dir / "checkpoints",
                self.step,
                self.policy.full_model,
                self.policy.source,
                state,
                self.config.checkpoint.keep,
            )
        barrier()
        self.policy.source = path
        self.saved_step = self.step
        return path

    @property
    def rollout_settings(self) -> RolloutConfig:
        """Rollout settings at the current step: the config's, with the current PTST stage's values laid over them."""
        return self.config.rollout_at(self.step)

    def stage_metrics(self) -> dict[str, float]:
        """`stage/*`: the PTST stage in force, its group size and its response-length limit."""
        rollout = self.rollout_settings
        index = stage_at(self.config.stages, self.step) if self.config.stages else 0
        return {
            "stage/index": float(index),
            "stage/group_size": float(rollout.group_size),
            "stage/max_new_tokens": float(rollout.max_new_tokens),
        }

    def sampling_params(self) -> SamplingParams:
        """The rollout sampling settings at the current step."""
        rollout = self.rollout_settings
        return SamplingParams(
            max_new_tokens=rollout.max_new_tokens,
            temperature=rollout.temperature,
            top_p=rollout.top_p,
            top_k=rollout.top_k,
            n=rollout.group_size,
        )

    def next_queries(self) -> list[int]:
        """The next queries whose prompts fit the length limit (over-long ones are skipped and counted)."""
        wanted = self.config.train.queries_per_episode
        chosen: list[int] = []
        while len(chosen) < wanted:
            for index in self.stream.take(wanted - len(chosen)):
                try:
                    self.train_bank.input_ids(index)
                    chosen.append(index)
                except PromptTooLongError as exc:
                    self.skipped_prompts += 1
                    log.warning("skipping example %s: %s", self.train_bank.examples[index].id, exc)
                except DataError as exc:
                    self._skip_bad_example(exc)
        return chosen

    def _skip_bad_example(self, error: DataError) -> None:
        """Under data.on_error=skip, count and log an example failing when first used (a corrupt image); else raise."""
        if self.config.data.on_error != "skip":
            raise error
        self.skipped_examples += 1
        log.warning("skipping example (data.on_error=skip): %s", error)

    def usable_eval_bank(self) -> PromptBank:
        """The held-out bank without examples that fail to encode (counted in `eval/skipped`), under on_error=skip."""
        bank = self.eval_bank
        if self.config.data.on_error != "skip":
            return bank
        kept = []
        for index, example in enumerate(bank.examples):
            try:
                bank.input_ids(index)
                kept.append(example)
            except DataError as exc:
                self.eval_skipped += 1
                log.warning("skipping held-out example (data.on_error=skip): %s", exc)
        if len(kept) < len(bank):
            bank = PromptBank(
                bank.processor,
                kept,
                bank.template,
                bank.system,
                bank.max_prompt_tokens,
                pixel_cache_bytes=bank.pixel_cache.max_bytes,
            )
        return bank

    def generate(self, queries: list[int], positions: range, round_index: int) -> list[list[Generation]]:
        """Response groups for `queries` (at `positions` in the episode), seeded per batch or per query.

        Prompts (with their pixels) are fetched one engine batch at a time, so an episode's images are never all in
        host memory at once.
        """
        seed = step_seed(self.config.seed, self.step, round_index)
        params = self.sampling_params()
        if not self.seed_per_query:
            torch.manual_seed(seed)
            per_call = groups_per_batch(self.rollout_settings.batch_size, params.n)
            chunks = [queries[i : i + per_call] for i in range(0, len(queries), per_call)]
            return [
                group
                for chunk in chunks
                for group in self.policy.engine.generate([self.train_bank.get(i) for i in chunk], params)
            ]
        groups = []
        for position, index in zip(positions, queries, strict=True):
            torch.manual_seed(step_seed(seed, position, 1))
            groups.extend(self.policy.engine.generate([self.train_bank.get(index)], params))
        return groups

    def rollout(self, queries: list[int], round_index: int = 0) -> list[Sample]:
        """Sample a group of responses per query with the current policy (under torchrun: this rank's share)."""
        self.samples_generated += len(queries) * self.sampling_params().n
        start, end = shard_bounds(len(queries), self.dist.rank, self.dist.world_size)
        queries = queries[start:end]
        groups = self.generate(queries, range(start, end), round_index)
        samples = []
        for query_index, (example_index, group) in enumerate(zip(queries, groups, strict=True), start):
            for generation in group:
                samples.append(
                    Sample(
                        example_index=example_index,
                        query_index=query_index,
                        prompt_ids=self.train_bank.input_ids(example_index),
                        response_ids=generation.token_ids,
                        old_logprobs=generation.logprobs,
                        response_text=self.policy.processor.decode(generation.token_ids),
                        reward=0.0,
                        correct=False,
                        ended_with_eos=generation.ended_with_eos,
                        born_step=self.step,
                    )
                )
        return samples

    def reward(self, samples: list[Sample]) -> None:
        """Score every response against its example's gold answer (in parallel, bounded in time)."""
        examples = [self.train_bank.examples[s.example_index] for s in samples]
        results = score_batch(self.reward_fn, [s.response_text for s in samples], examples, self.verifier)
        for sample, result in zip(samples, results, strict=True):
            sample.reward = float(result.reward)
            sample.correct = bool(result.correct)
            sample.wait_count = count_waits(sample.response_text)
            if self.config.reward.shaping == "released":
                sample.reward = shaped_reward(
                    sample.correct, sample.ended_with_eos, sample.wait_count, sample.forced_rethink
                )

    def rethink(self, samples: list[Sample]) -> tuple[list[Sample], dict[str, float]]:
        """Forced rethinking: continue some responses after a trigger; accepted rethinks replace their originals."""
        rng = random.Random(step_seed(self.config.seed, self.step, 7_777 + self.dist.rank))
        samples, metrics = self.rethinker.apply(samples, self.train_bank.get, self.reward, rng)
        accepted = [s for s in samples if s.accepted_rethink]
        if accepted:
            start = time.perf_counter()
            self.behaviour_logprobs(accepted)
            metrics["time/logprob_recompute_s"] = time.perf_counter() - start
        return samples, metrics

    def behaviour_logprobs(self, samples: list[Sample]) -> None:
        """Set each sample's old log-probs to the current policy's, by the update's own forward pass (no backward)."""
        recompute_logprobs(
            self.policy.full_model,
            samples,
            self.config.train.micro_batch_size,
            self.policy.processor.tokenizer.pad_token_id,
            self.train_bank.pixels,
            self.rollout_settings.temperature,
        )

    def old_logprobs(self, samples: list[Sample]) -> dict[str, float]:
        """pi_old of fresh rollouts: recomputed by the trainer or the engine's (`rollout.old_logprobs`); logs their gap.

        Under torchrun each rank recomputes its own share; the logged max is then the ranks' mean of their maxima.
        """
        if not self.config.rollout.recomputes_old_logprobs(self.config.model.dtype):
            return {}
        start = time.perf_counter()
        engine = [s.old_logprobs for s in samples]
        self.behaviour_logprobs(samples)
        gap = logprob_gap(engine, [s.old_logprobs for s in samples])
        return {**mean_across_ranks(gap, len(samples)), "time/old_logprobs_s": time.perf_counter() - start}

    def advantages(self, samples: list[Sample]) -> dict[str, float]:
        """Group-normalised advantages; returns the group telemetry (effective / all-correct / all-wrong shares)."""
        group_size = self.rollout_settings.group_size
        rewards = torch.tensor([s.reward for s in samples])
        correct = torch.tensor([s.correct for s in samples])
        advantages = group_advantages(rewards, group_size, self.config.algo.adv_norm)
        for sample, advantage in zip(samples, advantages.tolist(), strict=True):
            sample.advantage = advantage
        return group_stats(rewards, correct, group_size)

    def experience(self, round_index: int = 0) -> tuple[list[Sample], dict[str, float]]:
        """rollout -> reward -> advantages for one round of queries; returns samples and their group telemetry.

        Under torchrun each rank rolls out, scores and rethinks its share; the groups are then gathered on every rank.
        """
        start = time.perf_counter()
        samples = self.rollout(self.next_queries(), round_index)
        generate_s = time.perf_counter() - start
        metrics = {"time/generate_s": generate_s, **self.old_logprobs(samples)}
        start = time.perf_counter()
        self.reward(samples)
        metrics["time/reward_s"] = time.perf_counter() - start
        if self.config.rethink.enabled:
            start = time.perf_counter()
            samples, rethink_metrics = self.rethink(samples)
            metrics.update(mean_across_ranks(rethink_metrics, len(samples)))
            metrics["time/rethink_s"] = time.perf_counter() - start
        samples = gather_lists(samples)
        return samples, {**self.advantages(samples), **metrics}

    def new_episode(self) -> dict[str, float]:
        """Roll out an episode (as many rounds as the replay mode asks) and queue its update batches."""
        start = time.perf_counter()
        self.rethinker.budget = self.rollout_settings.max_new_tokens
        samples, metrics = self.replay.collect(
            self.experience, self.config.train.queries_per_episode, self.rollout_settings.group_size
        )
        rollout_s = time.perf_counter() - start
        metrics.update(
            {
                "reward/mean": sum(s.reward for s in samples) / max(len(samples), 1),
                "acc/mean": sum(s.correct for s in samples) / max(len(samples), 1),
                "response/len_mean": sum(s.response_length for s in samples) / max(len(samples), 1),
                "response/eos_frac": sum(s.ended_with_eos for s in samples) / max(len(samples), 1),
            }
        )
        self.pending = self.replay.split(samples, self.step)
        self.episode_metrics = metrics
        return {"time/rollout_s": rollout_s}

    def update(self, batch: list[Sample]) -> dict[str, float]:
        """One policy update on the selected batch."""
        settings = UpdateSettings(
            algo=self.config.algo,
            micro_batch_size=self.config.train.micro_batch_size,
            pad_id=self.policy.processor.tokenizer.pad_token_id,
            temperature=self.rollout_settings.temperature,
            grad_clip=self.config.optim.grad_clip,
            norm_len=float(self.rollout_settings.max_new_tokens),
            sft_coef=self.config.algo.sft_coef if self.config.rethink.enabled else 0.0,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        self.policy.engine.sleep()
        metrics = policy_update(
            self.policy.model,
            self.policy.ref_model,
            batch,
            self.optimizer,
            self.scheduler,
            self.train_bank.pixels,
            settings,
        )
        if self.policy.rollout_model is not None:
            copy_weights(self.policy.model, self.policy.rollout_model)
        self.policy.engine.sync_weights()
        return metrics

    def train_step(self) -> dict[str, float]:
        """One update: a new episode when the last one is used up, then select (replay) -> update, with telemetry."""
        start = time.perf_counter()
        metrics = {"time/rollout_s": 0.0, **self.threads.adjust()}
        if (
            self.config.stages
            and self.step > 0
            and stage_at(self.config.stages, self.step - 1) != stage_at(self.config.stages, self.step)
        ):
            self.pending = []
            log.info("PTST: entering stage %d at step %d", stage_at(self.config.stages, self.step), self.step)
        if not self.pending:
            metrics.update(self.new_episode())
        metrics.update(self.episode_metrics)
        metrics.update(self.stage_metrics())
        batch = self.replay.select(self.pending.pop(0), self.step)
        update_start = time.perf_counter()
        unusable = nonfinite_samples(batch.samples)
        if unusable is not None:
            log.warning("skipping the update of step %d: %s", self.step + 1, unusable)
            metrics["train/nonfinite"] = 1.0
        elif batch.samples:
            metrics.update(self.update(batch.samples))
        update_s = time.perf_counter() - update_start
        metrics.update(self.nonfinite.record(metrics.get("train/nonfinite", 0.0) > 0))
        metrics.update(batch_metrics(batch, self.step))
        metrics.update(self.replay.metrics())
        metrics.update(self.train_bank.metrics())
        self.step += 1
        advantages = torch.tensor([s.advantage for s in batch.samples])
        self.logger.histogram(self.step, "adv/hist", advantages)
        metrics.update(
            {
                "batch/size": float(len(batch.samples)),
                "adv/abs_mean": float(advantages.abs().mean()) if batch.samples else 0.0,
                "data/skipped_prompts": float(self.skipped_prompts),
                "data/skipped": float(self.skipped_examples),
                "rollout/samples_total": float(self.samples_generated),
                "time/update_s": update_s,
                "time/step_s": time.perf_counter() - start,
            }
        )
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Greedy accuracy on the held-out examples; writes a sample of generations for a person to read.

        Under torchrun rank 0 evaluates alone (on its unsharded copy) and the other ranks get no metrics.
        """
        if not self.dist.is_main:
            return {}
        max_new = self.config.eval_max_new_tokens_at(self.step)
        if not self.eval_bank_checked:
            self.eval_bank = self.usable_eval_bank()
            self.eval_bank_checked = True
        if not len(self.eval_bank):
            return {"eval/skipped": float(self.eval_skipped)}
        return {"eval/skipped": float(self.eval_skipped)} | evaluate(
            self.policy,
            self.eval_bank,
            self.reward_fn,
            self.verifier,
            max_new,
            self.run_dir / "samples" / f"step-{self.step}.jsonl",
            self.config.eval.samples_to_log,
        )

    def should(self, every: int) -> bool:
        """Whether a periodic action (evaluation, checkpoint) is due at the current step."""
        return every > 0 and (self.step % every == 0 or self.step == self.config.train.steps)

    def fit(self) -> Path:
        """Train to `train.steps`, evaluating and checkpointing on schedule; returns the final checkpoint."""
        total = self.config.train.steps
        bar = progress_bar(total, self.step, self.config.logging.progress, "train")
        try:
            if self.step == 0:
                start = self.evaluate() if self.config.eval.at_start and len(self.eval_bank) else {}
                if start or self.data_counts:
                    self.logger.log(0, {**self.data_counts, **start})
            while self.step < total:
                metrics = self.train_step()
                if self.config_changes:
                    metrics["resume/config_changes"] = float(len(self.config_changes))
                    self.config_changes = {}
                if len(self.eval_bank) and self.should(self.config.eval.every):
                    metrics.update(self.evaluate())
                metrics.update(flag_no_signal(bar, metrics))
                self.logger.log(self.step, metrics)
                self.nonfinite.stop_if_diverged(
                    self.step,
                    latest_checkpoint(self.run_dir / "checkpoints"),
                    f"lower optim.lr (now {self.config.optim.lr:g}) or check the reward {self.config.reward.fn!r}",
                )
                if self.should(self.config.checkpoint.every):
                    self.save()
                bar.update(1)
                bar.set_postfix(progress_fields(metrics, {"reward": "reward/mean", "acc": "eval/acc"}))
            return self.save()
        finally:
            bar.close()
            self.logger.close()
            self.verifier.close()
            if self.dist.active:
                self.release_sharded_state()
            shutdown()

    def release_sharded_state(self) -> None:
        """Drop the sharded policy and its optimizer so the process group can go cleanly; no training after this."""
        del self.policy, self.optimizer, self.scheduler, self.rethinker
