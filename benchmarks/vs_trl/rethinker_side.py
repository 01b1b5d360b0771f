"""The rethinker side: `rethinker train`'s GRPOTrainer on the shared settings, timed step by step.

Usage (the driver calls it): python rethinker_side.py SPEC_JSON RESULT_PATH
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from rethinker.config import RLConfig, load_config
from rethinker.train.grpo import GRPOTrainer

from bench_common import (
    ADAM_BETAS,
    CLIP_EPS,
    DATASET_SIZE,
    GRAD_CLIP,
    LEARNING_RATE,
    MAX_PROMPT_TOKENS,
    SEED,
    RunResult,
    RunSpec,
    StepRecord,
    image_side,
    peak_rss_mb,
    side_main,
    wait_for_verifier,
)

TIME_PARTS = (
    "time/rollout_s",
    "time/generate_s",
    "time/reward_s",
    "time/update_s",
    "time/forward_s",
    "time/backward_s",
    "time/optimizer_s",
)


def overrides(spec: RunSpec) -> list[str]:
    """`key=value` overrides on the tiny preset that give the benchmark's settings (no eval, no checkpoints)."""
    batch = spec.batch_size
    pixels = image_side(spec.image_tokens) ** 2
    return [
        f"seed={SEED}",
        f"threads={spec.threads}",
        f"run_dir={Path(spec.work_dir) / 'rethinker-run'}",
        f"model.path={spec.model_dir}",
        f"model.min_pixels={pixels}",
        f"model.max_pixels={pixels}",
        f"data.synthetic.train_size={DATASET_SIZE}",
        f"data.synthetic.image_size={image_side(spec.image_tokens)}",
        "data.shuffle=false",
        "prompt.template=default",
        f"prompt.max_prompt_tokens={MAX_PROMPT_TOKENS}",
        f"rollout.group_size={spec.group_size}",
        "rollout.temperature=1.0",
        "rollout.top_p=1.0",
        "rollout.top_k=0",
        f"rollout.max_new_tokens={spec.max_new_tokens}",
        f"rollout.batch_size={batch}",
        "reward.fn=accuracy",
        "algo.kl_coef=0.0",
        "algo.update_epochs=1",
        "algo.adv_norm=std",
        "algo.loss_agg=token-mean",
        f"algo.eps_low={CLIP_EPS}",
        f"algo.eps_high={CLIP_EPS}",
        "replay.mode=none",
        f"optim.lr={LEARNING_RATE}",
        "optim.schedule=constant",
        f"optim.betas=[{ADAM_BETAS[0]}, {ADAM_BETAS[1]}]",
        "optim.weight_decay=0.0",
        f"optim.grad_clip={GRAD_CLIP}",
        f"train.steps={spec.steps}",
        f"train.queries_per_episode={spec.prompts_per_step}",
        "train.update_batch_size=0",
        f"train.micro_batch_size={batch}",
        "eval.every=0",
        "eval.at_start=false",
        "checkpoint.every=0",
        "logging.tensorboard=false",
        "logging.progress=false",
    ]


def build_trainer(spec: RunSpec) -> GRPOTrainer:
    """The trainer `rethinker train tiny <overrides>` would build, with EOS blocked so every response is full length."""
    config = load_config(RLConfig, "tiny", overrides(spec))
    trainer = GRPOTrainer(config)
    engine = trainer.policy.engine
    engine.blocked_ids.append(engine.eos_id)
    return trainer


def run(spec: RunSpec) -> RunResult:
    """Train `spec.steps` steps and record each step's time (logging included), its parts and the tokens generated."""
    torch.set_num_threads(spec.threads)
    trainer = build_trainer(spec)
    wait_for_verifier(trainer.verifier)
    records = []
    try:
        for _ in range(spec.steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            metrics = trainer.train_step()
            log_start = time.perf_counter()
            trainer.logger.log(trainer.step, metrics)
            log_s = time.perf_counter() - log_start
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            tokens = round(metrics["response/len_mean"] * metrics["batch/size"])
            parts = {key: float(metrics[key]) for key in TIME_PARTS} | {"time/log_s": log_s}
            parts |= {f"time/{key}": value for key, value in trainer.policy.engine.timings.items()}
            records.append(StepRecord(seconds, cpu_seconds, tokens, parts))
    finally:
        trainer.logger.close()
        trainer.verifier.close()
    return RunResult(spec, records, peak_rss_mb())


if __name__ == "__main__":
    sys.exit(side_main(run, sys.argv[1:]))
