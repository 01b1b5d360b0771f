"""The tiny model's supervised warm-up (cold start from an imperfect teacher), with its held-out accuracy curve: the
packaged start that `rethinker train` improves on with RL."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from transformers import PreTrainedModel

from rethinker.config import load_config
from rethinker.data.synthetic import make_synthetic
from rethinker.models.processor import VisionProcessor
from rethinker.models.prompt_bank import PromptBank
from rethinker.rewards.registry import get_reward_fn, score_batch
from rethinker.rewards.verify import Verifier
from rethinker.rollout.base import SamplingParams
from rethinker.rollout.hf import HFRolloutEngine
from rethinker.sft_config import SFTConfig
from rethinker.telemetry import progress_bar
from rethinker.train.checkpoint import TRAINER_STATE
from rethinker.train.sft import SFTTrainer

SFT_CURVE = "sft_curve.json"
"""The file, beside a warm-started model, holding its supervised held-out accuracy curve."""
PLATEAU_EVALS = 4
"""The supervised plateau is the mean of this many last evaluations of the curve."""


def greedy_accuracy(model: PreTrainedModel, processor: VisionProcessor, bank: PromptBank, verifier: Verifier) -> float:
    """Share of held-out items answered correctly with greedy decoding (the training reward's verdict)."""
    engine = HFRolloutEngine.for_processor(model, processor, len(bank))
    groups = engine.generate([bank.get(i) for i in range(len(bank))], SamplingParams(max_new_tokens=32, temperature=0))
    texts = [processor.decode(group[0].token_ids) for group in groups]
    results = score_batch(get_reward_fn("accuracy"), texts, list(bank.examples), verifier)
    return sum(r.correct for r in results) / len(results)


def plateau(curve: Sequence[Sequence[float]]) -> tuple[float, int, int]:
    """(mean accuracy, first step, last step) over the last `PLATEAU_EVALS` points of a [[step, acc], ...] curve."""
    last = curve[-PLATEAU_EVALS:]
    return sum(acc for _, acc in last) / len(last), int(last[0][0]), int(last[-1][0])


def supervised_start_lines(model_dir: Path, rl_end: float) -> list[str]:
    """Closing lines of an RL run whose start carries `sft_curve.json`: the supervised plateau and RL's gain over it."""
    path = Path(model_dir) / SFT_CURVE
    if not path.is_file():
        return []
    curve = json.loads(path.read_text())["curve"]
    level, first, last = plateau(curve)
    shown = " ".join(f"{acc:.3f}" for _, acc in curve[-PLATEAU_EVALS:])
    return [
        f"supervised plateau of the start: {level:.3f} (held-out at SFT steps {first}-{last}: {shown})",
        f"RL gain over the supervised plateau: {rl_end - level:+.3f}",
    ]


def pretrain_tiny(
    out_dir: Path, overrides: Sequence[str] = (), progress: bool = True, every: int = 50, eval_size: int = 200
) -> Path:
    """Run the `sft-tiny` warm-up from the random tiny model, greedy held-out accuracy every `every` steps; write the
    final model and its curve (`sft_curve.json`) to `out_dir`."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="rethinker-warmup-") as work:
        settings = [f"run_dir={work}", "logging.tensorboard=false", f"logging.progress={str(progress).lower()}"]
        config = load_config(SFTConfig, "sft-tiny", [*settings, "checkpoint.every=0", "eval.every=0", *overrides])
        trainer = SFTTrainer(config)
        families = tuple(config.data.synthetic.families or ("count",))
        bank = PromptBank(
            trainer.processor, make_synthetic(eval_size, config.seed, "eval", families), "default", None, 512
        )
        curve = []
        bar = progress_bar(config.train.steps, trainer.step, progress, "warm-up")
        with Verifier() as verifier:
            while trainer.step < config.train.steps:
                trainer.train_step()
                bar.update(1)
                if trainer.step % every == 0 or trainer.step == config.train.steps:
                    curve.append([trainer.step, greedy_accuracy(trainer.model, trainer.processor, bank, verifier)])
                    bar.set_postfix(held_out=f"{curve[-1][1]:.3f}")
        bar.close()
        final = trainer.save()
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(final, out_dir, ignore=shutil.ignore_patterns(TRAINER_STATE))
    summary = {"recipe": "sft-tiny", "overrides": list(overrides), "held_out_items": eval_size, "curve": curve}
    (out_dir / SFT_CURVE).write_text(json.dumps(summary, indent=1) + "\n")
    return out_dir
