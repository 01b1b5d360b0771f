"""SFT on the real tiny model: the label mask, exact accumulation, learning, exact resume, over-long skipping, CLI."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText

from rethinker.config import ConfigError, load_config
from rethinker.data.sharegpt import SFTRecord
from rethinker.data.synthetic import make_synthetic
from rethinker.errors import UserError
from rethinker.models.loading import load_processor
from rethinker.models.processor import IMAGE_PAD
from rethinker.sft_config import SFTConfig, SFTEvalConfig
from rethinker.telemetry import run_state_metrics
from rethinker.train.sft import SFTTrainer, trained_nll_sum
from rethinker.train.sft_cli import add_parser, run
from rethinker.train.sft_data import ConversationEncoder, build_sft_records, chat_content, collate, total_steps

FIRST_ANSWER = "I count 2 red dots. \\boxed{2}"
SECOND_ANSWER = "Wait, let's double check. I count 2 red dots again. \\boxed{2}"


def _config(tiny_dir: Path, run_dir: Path, *overrides: str) -> SFTConfig:
    base = [
        f"model.path={tiny_dir}",
        f"run_dir={run_dir}",
        "data.synthetic.size=16",
        "train.steps=2",
        "train.global_batch_size=4",
        "train.micro_batch_size=2",
        "eval.size=4",
        "eval.every=0",
        "eval.at_start=false",
        "checkpoint.every=0",
        "logging.progress=false",
        "logging.tensorboard=false",
    ]
    return load_config(SFTConfig, "sft-tiny", [*base, *overrides])


def _record() -> SFTRecord:
    image = Image.new("RGB", (56, 56), (230, 30, 30))
    messages = [
        {"role": "system", "content": "Count carefully."},
        {"role": "user", "content": "<image>How many red dots are there?"},
        {"role": "assistant", "content": FIRST_ANSWER},
        {"role": "user", "content": "Are you sure?"},
        {"role": "assistant", "content": SECOND_ANSWER},
    ]
    return SFTRecord(id="two-turns", images=(image,), messages=messages, origin="test")


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _public_metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [run_state_metrics(row) for row in rows]


def test_label_mask_covers_exactly_the_assistant_turns_and_their_end_tokens(tiny_dir: Path) -> None:
    processor = load_processor(tiny_dir)
    encoded = ConversationEncoder(processor, 4096).encode(_record())
    tokenizer = processor.tokenizer
    trained_text = tokenizer.decode(encoded.input_ids[encoded.trained].tolist(), skip_special_tokens=False)
    assert trained_text == FIRST_ANSWER + tokenizer.eos_token + SECOND_ANSWER + tokenizer.eos_token
    untrained_text = tokenizer.decode(encoded.input_ids[~encoded.trained].tolist(), skip_special_tokens=False)
    assert "Count carefully." in untrained_text and "Are you sure?" in untrained_text
    assert "How many red dots are there?" in untrained_text
    assert not encoded.trained[encoded.input_ids == processor.image_pad_id].any()
    assert (encoded.input_ids == processor.image_pad_id).sum() == encoded.image_grid_thw.prod() // 4
    first_trained = int(encoded.trained.nonzero()[0])
    prompt = processor.render([chat_content(m) for m in _record().messages[:2]])
    assert prompt.count(IMAGE_PAD) == 1
    expected_prompt = processor.encode(prompt, list(_record().images)).input_ids
    assert torch.equal(encoded.input_ids[:first_trained], expected_prompt)


def test_trained_nll_equals_the_full_forward_pass(tiny_dir: Path) -> None:
    processor = load_processor(tiny_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    encoder = ConversationEncoder(processor, 4096)
    batch = collate([encoder.encode(_record()), encoder.encode(_record())], processor.tokenizer.pad_token_id)
    batch.trained[1, :] = False
    batch.trained[1, -3:] = True
    with torch.no_grad():
        ours = trained_nll_sum(model, batch)
        logits = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            pixel_values=batch.pixel_values,
            image_grid_thw=batch.image_grid_thw,
        ).logits
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(2, batch.input_ids[:, 1:, None]).squeeze(-1)
    assert torch.allclose(ours, -logp[batch.trained[:, 1:]].sum(), rtol=1e-4)


def test_accumulation_is_exact_over_the_global_batch(tiny_dir: Path, tmp_path: Path) -> None:
    results = []
    for micro in (1, 4):
        trainer = SFTTrainer(_config(tiny_dir, tmp_path / f"micro-{micro}", f"train.micro_batch_size={micro}"))
        metrics = trainer.update(trainer.next_batch())
        results.append((metrics, {name: p.grad.clone() for name, p in trainer.model.named_parameters()}))
    (one, grads_one), (four, grads_four) = results
    assert one["loss/sft"] == pytest.approx(four["loss/sft"], rel=1e-5)
    assert one["grad_norm"] == pytest.approx(four["grad_norm"], rel=1e-4)
    for name, grad in grads_one.items():
        assert torch.allclose(grad, grads_four[name], rtol=1e-3, atol=1e-7), name


def test_one_step_changes_parameters_and_a_repeated_batch_loss_falls(tiny_dir: Path, tmp_path: Path) -> None:
    trainer = SFTTrainer(_config(tiny_dir, tmp_path, "optim.lr=1e-3", "optim.schedule=constant", "optim.warmup_frac=0"))
    batch = trainer.next_batch()
    before = _params(trainer.model)
    losses = [trainer.update(batch)["loss/sft"]]
    after = _params(trainer.model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    losses += [trainer.update(batch)["loss/sft"] for _ in range(4)]
    assert losses[-1] < losses[0] - 0.3, losses


def test_autocast_computes_in_bfloat16_and_keeps_float32_weights(tiny_dir: Path, tmp_path: Path) -> None:
    trainer = SFTTrainer(_config(tiny_dir, tmp_path, "train.autocast=bfloat16"))
    batch = trainer.next_batch()
    assert trainer.update(batch)["loss/sft"] > 0
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    collated = collate(batch, trainer.processor.tokenizer.pad_token_id)
    with torch.no_grad():
        low, full = trained_nll_sum(trainer.model, collated, "bfloat16"), trained_nll_sum(trainer.model, collated)
    assert low.item() != full.item()
    assert low.item() == pytest.approx(full.item(), rel=0.05)


def test_train_four_equals_train_two_resume_train_two(tiny_dir: Path, tmp_path: Path) -> None:
    schedule = ["train.steps=4", "optim.warmup_frac=0.25", "eval.every=2", "checkpoint.every=1", "checkpoint.keep=1"]
    straight = SFTTrainer(_config(tiny_dir, tmp_path / "straight", *schedule)).fit()
    resumed_dir = tmp_path / "resumed"
    halfway = SFTTrainer(_config(tiny_dir, resumed_dir, *schedule)).fit(stop_at=2)
    assert halfway.name == "step-2"
    resumed = SFTTrainer(_config(tiny_dir, resumed_dir, *schedule, "resume=true")).fit()
    assert straight.name == resumed.name == "step-4"
    assert sorted(p.name for p in (resumed_dir / "checkpoints").glob("step-*")) == ["step-4"]
    assert load_processor(resumed).tokenizer.eos_token == "<|im_end|>"
    straight_weights = load_file(straight / "model.safetensors")
    resumed_weights = load_file(resumed / "model.safetensors")
    assert straight_weights.keys() == resumed_weights.keys()
    assert all(torch.equal(straight_weights[k], resumed_weights[k]) for k in straight_weights)
    straight_rows, resumed_rows = _public_metrics(tmp_path / "straight"), _public_metrics(resumed_dir)
    assert [row["step"] for row in resumed_rows] == [1, 2, 3, 4]
    assert straight_rows == resumed_rows
    assert "eval/loss" in resumed_rows[1] and "eval/loss" in resumed_rows[3]


def _write_file_data(folder: Path) -> Path:
    Image.new("RGB", (56, 56), (30, 80, 240)).save(folder / "blue.png")
    rows = []
    for index in range(6):
        answer = "I count 1 blue dot. \\boxed{1}" if index % 2 else "I count 1 blue dot. " * 20 + "\\boxed{1}"
        rows.append(
            {
                "id": f"row-{index}",
                "image": "blue.png",
                "conversations": [
                    {"from": "human", "value": "<image>How many dots?"},
                    {"from": "gpt", "value": answer},
                ],
            }
        )
    path = folder / "cold.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_cli_trains_on_a_file_skipping_and_counting_over_long_conversations(tiny_dir: Path, tmp_path: Path) -> None:
    data = _write_file_data(tmp_path)
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    overrides = [
        f"model.path={tiny_dir}",
        f"run_dir={tmp_path / 'run'}",
        "data.source=file",
        f"data.path={data}",
        "train.steps=2",
        "train.global_batch_size=2",
        "train.micro_batch_size=2",
        "train.max_length=160",
        "eval.at_start=false",
        "checkpoint.every=0",
        "logging.progress=false",
        "logging.tensorboard=false",
    ]
    args = parser.parse_args(["sft", "sft-tiny", *overrides])
    assert args.func is run
    assert run(args) == 0
    rows = _public_metrics(tmp_path / "run")
    assert [row["batch/size"] for row in rows] == [2.0, 2.0]
    assert rows[-1]["data/skipped_long"] >= 3
    assert all(row["tokens/trained"] > 0 for row in rows)
    final = tmp_path / "run" / "checkpoints" / "step-2"
    model = AutoModelForImageTextToText.from_pretrained(final)
    assert model.config.model_type == "qwen2_5_vl"
    assert load_processor(final).tokenizer.eos_token == "<|im_end|>"


def test_a_run_where_nothing_fits_says_so(tiny_dir: Path, tmp_path: Path) -> None:
    trainer = SFTTrainer(_config(tiny_dir, tmp_path, "train.max_length=8"))
    with pytest.raises(ValueError, match="no training conversation fits"):
        trainer.next_batch()
    assert trainer.skipped_long >= 16


def test_the_teachers_error_direction_and_recheck_style_reach_the_conversations() -> None:
    settings = ["size=300", "families=[count]", "recheck_prob=1.0", "miscount_prob=1.0", "miscount_direction=either"]
    overrides = [f"data.synthetic.{item}" for item in [*settings, "recheck_style=vote"]]
    config = load_config(SFTConfig, "sft-tiny", overrides)
    records, _ = build_sft_records(config.data, config.eval, 0)
    gold = [int(example.answer) for example in make_synthetic(300, 0, "train", ("count",))]
    solutions = [record.messages[-1]["content"] for record in records]
    firsts = [int(re.findall(r"boxed\{(\d+)\}", text)[0]) for text in solutions]
    crowded = [first - answer for first, answer in zip(firsts, gold, strict=True) if answer >= 5]
    assert set(crowded) == {-1, 1}, "every crowded first count is one off, both ways"
    assert any(len(re.findall(r"I count \d+ dots?", text)) == 3 for text in solutions), "a third count settles"
    assert all("again" in text for text, answer in zip(solutions, gold, strict=True) if answer < 5)


def test_presets_validate_and_steps_follow_epochs(tmp_path: Path) -> None:
    cold = load_config(SFTConfig, "vision-r1-cold-7b", [])
    assert (cold.optim.lr, cold.optim.schedule, cold.optim.warmup_frac) == (5e-6, "cosine", 0.05)
    assert (cold.train.epochs, cold.train.max_length, cold.train.global_batch_size) == (2, 16384, 32)
    assert cold.model.dtype == "bfloat16" and cold.data.source == "file"
    tiny = load_config(SFTConfig, "sft-tiny", [])
    assert tiny.model.path == "tiny-random" and tiny.data.source == "synthetic"
    assert tiny.data.template == ["default", "rethink"]
    synthetic = tiny.data.synthetic
    assert (synthetic.miscount_from, synthetic.miscount_prob, synthetic.recheck_fix_prob) == (5, 0.75, 0.5)
    assert (synthetic.recheck_prob, tiny.train.steps) == (0.25, 1000)
    with pytest.raises(UserError, match="'nope'"):
        build_sft_records(load_config(SFTConfig, "sft-tiny", ["data.template=[default,nope]"]).data, tiny.eval, 0)
    assert total_steps(2, None, 100, 32) == 7
    assert total_steps(2, 5, 100, 32) == 5
    with pytest.raises(ConfigError, match="data.path"):
        load_config(SFTConfig, "sft-tiny", ["data.source=file"])
    with pytest.raises(ConfigError, match="micro_batch_size"):
        load_config(SFTConfig, "sft-tiny", ["train.micro_batch_size=64"])


def test_held_out_fraction_is_seeded_and_disjoint(tmp_path: Path) -> None:
    data = load_config(SFTConfig, "sft-tiny", ["data.source=file", f"data.path={_write_file_data(tmp_path)}"]).data
    train, held = build_sft_records(data, SFTEvalConfig(fraction=0.34), seed=1)
    again_train, again_held = build_sft_records(data, SFTEvalConfig(fraction=0.34), seed=1)
    assert len(held) == 2 and len(train) == 4
    assert {r.id for r in train}.isdisjoint(r.id for r in held)
    assert [r.id for r in held] == [r.id for r in again_held] and [r.id for r in train] == [r.id for r in again_train]
