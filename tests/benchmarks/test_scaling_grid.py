"""The scaling benchmark's CPU-cheap parts: FLOP counts by hand, the floor, the grid, the table, the options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "vs_trl"
sys.path.insert(0, str(BENCH_DIR))

from bench_common import RunResult, RunSpec, StepRecord, train_examples  # noqa: E402
from flops import StepShape, TextDims, VisionDims, dims_from_config, floor_seconds, step_flops  # noqa: E402
from grid import Cell, left_out_reason, product, select, trl_left_out_reason  # noqa: E402
from run import cell_model_dir, chosen_cells, parse_args, sides_per_cell  # noqa: E402
from summary import compare, grid_table  # noqa: E402

from rethinker.models.processor import VisionProcessor  # noqa: E402
from rethinker.models.prompts import build_messages  # noqa: E402

TEXT = TextDims(hidden=4, layers=1, heads=2, kv_heads=1, head_dim=2, intermediate=8, vocab=10)
NO_VISION = VisionDims(2, 1, 4, 3, 1, 1, 1, 1, 0)


def test_text_matmul_flops_match_a_hand_count() -> None:
    # q 4x4 + k 4x2 + v 4x2 + o 4x4 = 48 MACs; gate, up, down 4x8 each = 96 MACs; 2 FLOPs per MAC
    assert TEXT.matmul_per_token() == 2 * (48 + 96)
    assert TEXT.attention_per_token(context=5) == 2 * 2 * 2 * 2 * 5
    assert TEXT.logits_per_token() == 80


def test_step_flops_match_a_hand_count() -> None:
    shape = StepShape(prompts=1, prompt_tokens=3, image_tokens=0, group_size=2, new_tokens=2)
    flops = step_flops(TEXT, NO_VISION, shape)
    prompt = 3 * 288 + 16 * (1 + 2 + 3)  # three prompt tokens, causal attention over 1, 2, 3 keys
    assert flops["prefill"] == prompt + 80  # logits of the last prompt position only
    assert flops["decode"] == 2 * (288 + 80 + 16 * 4)  # one fed-back token per row, 4 keys
    responses = 2 * (2 * (288 + 80) + 16 * (4 + 5))  # two response tokens per row over 4 and 5 keys
    assert flops["update"] == 3 * (prompt + responses)
    assert flops["total"] == flops["prefill"] + flops["decode"] + flops["update"] == 10064


def test_vision_flops_match_a_hand_count() -> None:
    vision = VisionDims(
        hidden=2,
        layers=1,
        intermediate=4,
        out_hidden=3,
        patch_size=1,
        temporal_patch_size=1,
        merge_size=1,
        window_patches=1,
        full_attention_layers=0,
    )
    # 2 patches: embedding 3 inputs -> 2 (24), block 4h^2 + 3h*i = 40 MACs each (160), attention over a
    # 1-patch window (16), merger 2->2 and 2->3 per token (40)
    assert vision.image_flops(image_tokens=2) == 24 + 160 + 16 + 40


def test_dims_read_from_a_qwen2_5_vl_config(tiny_dir: Path) -> None:
    text, vision = dims_from_config(json.loads((tiny_dir / "config.json").read_text()))
    assert (text.hidden, text.layers, text.heads, text.kv_heads, text.head_dim) == (128, 2, 4, 2, 32)
    assert vision.window_patches == 64 and vision.full_attention_layers == 1 and vision.merge_size == 2


def test_floor_takes_the_slower_of_decode_flops_and_bare_token_steps() -> None:
    flops = {"prefill": 1e9, "decode": 1e9, "update": 2e9, "total": 4e9}
    bound = floor_seconds(flops, gflops=1.0, decode_token_s=0.5, new_tokens=5)
    assert bound["decode_s"] == pytest.approx(2.0) and bound["decode_per_token_bound"] == 1.0
    assert bound["total_s"] == pytest.approx(5.0)
    free = floor_seconds(flops, gflops=1.0, decode_token_s=0.1, new_tokens=5)
    assert free["decode_s"] == pytest.approx(1.0) and free["decode_per_token_bound"] == 0.0
    with pytest.raises(ValueError, match="GFLOP/s"):
        floor_seconds(flops, gflops=0.0, decode_token_s=0.1, new_tokens=5)


def test_default_grid_keeps_each_axis_and_names_why_cells_are_left_out() -> None:
    cells = product()
    kept, left_out = select(cells)
    assert len(kept) + len(left_out) == len(cells) == 54
    names = {cell.name for cell in kept}
    for needed in ("tiny/16/512/8", "small/16/128/16", "small/1024/32/8", "small/1024/128/8", "base/256/128/8"):
        assert needed in names
    assert "base/16/512/8" in left_out and "small/1024/128/16" in left_out
    assert all(reason for reason in left_out.values())
    assert {c.size for c in kept} == {"tiny", "small", "base"} and {c.group_size for c in kept} == {8, 16}
    assert {c.image_tokens for c in kept} == {16, 256, 1024} and {c.new_tokens for c in kept} == {32, 128, 512}
    assert select(cells, keep_all=True) == (cells, {})


def test_trl_is_left_out_only_where_it_would_not_fit() -> None:
    assert trl_left_out_reason(Cell("base", 1024, 32, 8)) is not None
    assert trl_left_out_reason(Cell("small", 1024, 32, 8)) is None
    assert left_out_reason(Cell("small", 1024, 32, 8)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("small/256/128", "expected size/"), ("huge/16/32/8", "size must be"), ("small/x/32/8", "integers")],
)
def test_cells_are_parsed_with_a_clear_error(text: str, message: str) -> None:
    assert Cell.parse("base/1024/32/8") == Cell("base", 1024, 32, 8)
    with pytest.raises(ValueError, match=message):
        Cell.parse(text)


def step(seconds: float, parts: dict[str, float] | None = None) -> StepRecord:
    """A measured step; rethinker's carry the trainer's and the engine's timers."""
    return StepRecord(seconds, seconds, 256, parts or {})


def rethinker_parts(seconds: float) -> dict[str, float]:
    """Timers that add up to 90% of the step."""
    shares = {"generate": 0.4, "prefill": 0.1, "decode": 0.3, "reward": 0.0, "forward": 0.2, "backward": 0.25}
    return {f"time/{k}_s": seconds * v for k, v in shares.items()} | {"time/optimizer_s": 0.05, "time/log_s": 0.0}


def test_grid_table_from_a_recorded_run(tmp_path: Path) -> None:
    both = [
        RunResult(
            RunSpec("rethinker", 32, 3, "m", "w"),
            [step(9.0, rethinker_parts(9.0))] + [step(1.0, rethinker_parts(1.0))] * 2,
            900,
        ),
        RunResult(RunSpec("trl", 32, 3, "m", "w"), [step(9.0), step(4.0), step(4.0)], 1800),
    ]
    alone = [RunResult(RunSpec("rethinker", 32, 3, "b", "w"), [step(5.0, rethinker_parts(5.0))] * 3, 2000)]
    floor = {"prefill_s": 0.1, "decode_s": 0.1, "update_s": 0.3, "total_s": 0.5, "decode_per_token_bound": 1.0}
    extra = {"floor": floor, "per_row_floor": {"total_s": 1.0}, "decode_token_s": 0.003, "prompt_tokens": 120}
    record = {
        "summary": {"tiny/16/32/8": compare(both, 1) | extra, "base/1024/32/8": compare(alone, 1) | extra},
        "left_out": {"base/16/512/8": "too slow"},
        "trl_left_out": {"base/1024/32/8": "too big"},
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    table = grid_table(json.loads(path.read_text()))
    assert "| tiny/16/32/8 | 120 | 1.00 | 4.00 | 4.00x (4.00x) | 900 / 1800 | 0.50 | 2.0x | 2.00x |" in table
    assert "| base/1024/32/8 | 120 | 5.00 | not run | - | 2000 / - |" in table
    assert "| tiny/16/32/8 | 0.10 | 0.30 | 9.7 (3.0) | 0.20 | 0.25 | 0.05 |" in table
    assert "- `base/16/512/8`: too slow" in table and "- `base/1024/32/8`: too big" in table


def test_cell_model_dir_gives_prompts_exactly_the_image_tokens(tiny_dir: Path, tmp_path: Path) -> None:
    cell_dir = cell_model_dir(tiny_dir, 256, tmp_path / "cell")
    processor = VisionProcessor.from_pretrained(cell_dir)
    example = train_examples(256)[0]
    prompt = processor.encode(processor.render(build_messages(example)), example.images)
    assert int((prompt.input_ids == processor.image_pad_id).sum()) == 256
    assert (cell_dir / "model.safetensors").resolve() == (tiny_dir / "model.safetensors").resolve()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cells", "small/16/32"], "expected size/image_tokens/new_tokens/group"),
        (["--image-tokens", "200"], "positive square"),
        (["--steps", "2", "--warmup", "2"], "must exceed --warmup"),
        (["--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_run_rejects_bad_options_in_one_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH_DIR / "run.py"), *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_default_run_keeps_the_grid_and_runs_rethinker_alone_where_trl_is_left_out() -> None:
    args = parse_args([])
    cells, left_out = chosen_cells(args)
    sides, trl_left_out = sides_per_cell(cells, args)
    assert len(cells) == 22 and len(left_out) == 32
    assert sides["base/1024/32/8"] == ("rethinker",) and "base/1024/32/8" in trl_left_out
    assert sides["small/1024/32/8"] == ("rethinker", "trl")
    explicit = parse_args(["--cells", "base/1024/32/8", "--all", "--threads", "1"])
    cells, left_out = chosen_cells(explicit)
    assert [c.name for c in cells] == ["base/1024/32/8"] and left_out == {}
    assert sides_per_cell(cells, explicit) == ({"base/1024/32/8": ("rethinker", "trl")}, {})
