"""The RL loop; one step reads like the pipeline: rollout -> rethink -> reward -> advantages -> replay -> update."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import torch

from rethinker.algo.advantages import group_advantages, group_stats
from rethinker.algo.replay import DapoBatch, dapo_accept_groups
from rethinker.config import RLConfig, RolloutConfig, dump_config
from rethinker.models.processor import PromptTooLongError
from rethinker.rewards.extract import count_waits
from rethinker.rewards.registry import get_reward_fn, score_batch
from rethinker.rewards.shaping import shaped_reward
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import Generation, SamplingParams, groups_per_batch
from rethinker.telemetry import MetricsLogger, flag_no_signal, progress_bar
from rethinker.train.checkpoint import checkpoint_to_resume, load_trainer_state, save_checkpoint
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
from rethinker.train.logprobs import collate, response_logprobs
from rethinker.train.optim import build_optimizer
from rethinker.train.policy import Policy, load_policy
from rethinker.train.prompts import PromptBank
from rethinker.train.replay_stage import ReplayStage, UpdateBatch, batch_metrics
from rethinker.train.rethink_stage import RethinkStage
from rethinker.train.samples import Sample
from rethinker.train.schedule import stage_at
from rethinker.train.update import UpdateSettings, micro_batches, policy_update

log = logging.getLogger(__name__)


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
            raise ValueError(f"{self.dist.world_size} ranks need train.queries_per_episode >= {self.dist.world_size}")
        if self.dist.is_main:
            (self.run_dir / "config.yaml").write_text(dump_config(config))
        torch.manual_seed(config.seed)
        checkpoint = checkpoint_to_resume(self.run_dir / "checkpoints", config.resume)
        self.policy: Policy = load_policy(config, checkpoint, self.dist)
        train, held_out, self.data_counts = build_datasets(config.data, config.seed)
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
        self.reward_fn = get_reward_fn(config.reward.fn)
        self.verifier = Verifier(workers=config.reward.workers, timeout_s=config.reward.timeout_s)
        params = [p for p in self.policy.model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = build_optimizer(params, config.optim, config.train.steps)
        self.replay = ReplayStage(config.replay, config.train.update_batch_size, config.seed)
        self.rethinker = RethinkStage(
            config.rethink, self.policy.processor, self.policy.engine, config.rollout.max_new_tokens
        )
        self.pending: list[UpdateBatch] = []
        self.episode_metrics: dict[str, float] = {}
        self.step = 0
        self.skipped_prompts = 0
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

    def _restore(self, checkpoint: Path) -> None:
        state = load_trainer_state(checkpoint)
        load_optimizer_state(self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stream.position = int(state["data_position"])
        self.step = int(state["step"])
        self.skipped_prompts = int(state["skipped_prompts"])
        self.samples_generated = int(state["samples_generated"])
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
            "episode_metrics": self.episode_metrics,
            "pending": [
                {"samples": [s.to_state() for s in batch.samples], "replayed": batch.replayed} for batch in self.pending
            ],
            "replay": self.replay.state_dict(),
        }

    def save(self) -> Path:
        """Checkpoint the model (Hugging Face format) and the trainer state at the current step.

        Later checkpoints copy the processor files from this one, so pruning older checkpoints never loses them.
        Under torchrun every rank gathers the state and rank 0 alone writes it.
        """
        state = self._state()
        path = self.run_dir / "checkpoints" / f"step-{self.step}"
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
        return path

    @property
    def rollout_settings(self) -> RolloutConfig:
        """Rollout settings at the current step: the config's, with the current PTST stage's values laid over them."""
        rollout = self.config.rollout
        if not self.config.stages:
            return rollout
        stage = self.config.stages[stage_at(self.config.stages, self.step)]
        changes = {"group_size": stage.group_size, "max_new_tokens": stage.max_new_tokens}
        if stage.temperature is not None:
            changes["temperature"] = stage.temperature
        return rollout.model_copy(update=changes)

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
        return chosen

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
        """Log-probs of forced prefix + continuation under the current policy (the trigger was not sampled)."""
        pad_id = self.policy.processor.tokenizer.pad_token_id
        with torch.no_grad():
            for chunk in micro_batches(samples, self.config.train.micro_batch_size):
                batch = collate(chunk, pad_id, self.train_bank.pixels)
                logprobs = response_logprobs(self.policy.full_model, batch, self.rollout_settings.temperature).cpu()
                for row, sample in enumerate(chunk):
                    sample.old_logprobs = logprobs[row, : sample.response_length].clone()

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
        self.reward(samples)
        metrics = {"time/generate_s": generate_s, "time/reward_s": time.perf_counter() - start - generate_s}
        if self.config.rethink.enabled:
            start = time.perf_counter()
            samples, rethink_metrics = self.rethink(samples)
            metrics.update(mean_across_ranks(rethink_metrics, len(samples)))
            metrics["time/rethink_s"] = time.perf_counter() - start
        samples = gather_lists(samples)
        return samples, {**self.advantages(samples), **metrics}

    def new_episode(self) -> dict[str, float]:
        """Roll out an episode (DAPO: rounds until enough mixed groups) and queue its update batches."""
        start = time.perf_counter()
        self.rethinker.budget = self.rollout_settings.max_new_tokens
        if self.config.replay.mode == "dapo":
            samples, metrics = self.dapo_episode()
        else:
            samples, metrics = self.experience()
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

    def dapo_episode(self) -> tuple[list[Sample], dict[str, float]]:
        """DAPO dynamic sampling: keep rolling out until the episode holds enough groups with 0 < correct < G."""
        group_size = self.rollout_settings.group_size
        batch: DapoBatch[list[Sample]] = DapoBatch(
            self.config.train.queries_per_episode, self.config.replay.dapo_max_rounds
        )
        first_metrics: dict[str, float] = {}
        while not batch.done:
            samples, metrics = self.experience(batch.rounds_used)
            first_metrics = first_metrics or metrics
            groups = [samples[i : i + group_size] for i in range(0, len(samples), group_size)]
            correct = torch.tensor([s.correct for s in samples])
            batch.add_round([groups[i] for i in dapo_accept_groups(correct, group_size)])
        first_metrics.update({"dapo/rounds": float(batch.rounds_used), "dapo/filled": float(batch.filled)})
        return [s for group in batch.groups for s in group], first_metrics

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
        metrics = {"time/rollout_s": 0.0}
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
        if batch.samples:
            metrics.update(self.update(batch.samples))
        update_s = time.perf_counter() - update_start
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
        max_new = self.config.eval.max_new_tokens or self.config.rollout.max_new_tokens
        return evaluate(
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
                if len(self.eval_bank) and self.should(self.config.eval.every):
                    metrics.update(self.evaluate())
                metrics.update(flag_no_signal(bar, metrics))
                self.logger.log(self.step, metrics)
                if self.should(self.config.checkpoint.every):
                    self.save()
                bar.update(1)
                bar.set_postfix(
                    reward=f"{metrics['reward/mean']:.2f}", acc=f"{metrics.get('eval/acc', float('nan')):.2f}"
                )
            return self.save()
        finally:
            bar.close()
            self.logger.close()
            self.verifier.close()
            shutdown()
