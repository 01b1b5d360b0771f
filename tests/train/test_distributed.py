"""Data-parallel training: pure sharding rules, gloo collectives under torchrun, and trainer parity 2 ranks vs 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rethinker.config import dump_config
from rethinker.train.distributed import (
    env_from,
    gather_lists,
    mean_across_ranks,
    rank_chunks,
    shard_bounds,
    sum_across_ranks,
)
from rethinker.train.grpo import GRPOTrainer


def torchrun(script_args: list[str], nproc: int = 2, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `script_args` under torchrun on CPU (gloo), failing the test with its output when it fails."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    result = subprocess.run(
        [*command, *script_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


@pytest.mark.parametrize("count", [0, 1, 5, 8, 13])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shard_bounds_tile_the_queries_in_order(count: int, world: int) -> None:
    bounds = [shard_bounds(count, rank, world) for rank in range(world)]
    assert [i for start, end in bounds for i in range(start, end)] == list(range(count))
    sizes = [end - start for start, end in bounds]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("chunks", [1, 2, 3, 5])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_rank_chunks_deal_each_chunk_once_and_pad_to_equal_rounds(chunks: int, world: int) -> None:
    items = [f"chunk{i}" for i in range(chunks)]
    dealt = [rank_chunks(items, rank, world) for rank in range(world)]
    assert len({len(mine) for mine in dealt}) == 1
    real = sorted(chunk for mine in dealt for chunk, scale in mine if scale == 1.0)
    assert real == sorted(items)
    assert all(scale in (0.0, 1.0) for mine in dealt for _, scale in mine)


def test_env_from_reads_torchrun_variables_and_defaults_to_one_process() -> None:
    env = env_from({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (env.rank, env.world_size, env.local_rank, env.active, env.is_main) == (3, 4, 1, True, False)
    alone = env_from({})
    assert not alone.active and alone.is_main and alone.device == torch.device("cpu")


def test_single_process_reductions_pass_values_through() -> None:
    assert gather_lists([1, 2]) == [1, 2]
    assert sum_across_ranks({"a": 1.5}) == {"a": 1.5}
    assert mean_across_ranks({"a": 0.25}, 7) == {"a": 0.25}


COLLECTIVES = textwrap.dedent(
    """
    import json, sys, torch
    from rethinker.train.distributed import (
        gather_lists, init_distributed, load_optimizer_state, mean_across_ranks, optimizer_state, shard_model,
        shutdown, sum_across_ranks,
    )
    env = init_distributed("gloo")
    torch.manual_seed(0)
    model = shard_model(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)), env.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(2, 3)).sum().backward()
    optimizer.step()
    state = optimizer_state(optimizer)
    fresh = torch.optim.AdamW(model.parameters(), lr=0.1)
    load_optimizer_state(fresh, state)
    saved, again = state["state"], optimizer_state(fresh)["state"]
    out = {
        "gathered": gather_lists([env.rank] * (env.rank + 1)),
        "summed": sum_across_ranks({"x": env.rank + 1.0}),
        "mean": mean_across_ranks({"x": float(env.rank)}, env.rank + 1.0),
        "state_keys": sorted(saved),
        "shapes": [list(saved[i]["exp_avg"].shape) for i in sorted(saved)],
        "reloaded": all(torch.equal(again[i][k], saved[i][k]) for i in saved for k in saved[i]),
    }
    json.dump(out, open(f"{sys.argv[1]}/rank{env.rank}.json", "w"))
    del model, optimizer, fresh
    shutdown()
    """
)


def test_collectives_and_sharded_optimizer_state_under_torchrun(tmp_path: Path) -> None:
    script = tmp_path / "collectives.py"
    script.write_text(COLLECTIVES)
    torchrun([str(script), str(tmp_path)])
    for rank in range(2):
        out = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert out["gathered"] == [0, 1, 1]
        assert out["summed"] == {"x": 3.0}
        assert out["mean"]["x"] == pytest.approx(2 / 3)
        assert out["state_keys"] == [0, 1, 2, 3]
        assert out["shapes"] == [[4, 3], [4], [2, 4], [2]]
        assert out["reloaded"]


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


PARITY = ("train.steps=1", "train.micro_batch_size=4", "distributed.seed_per_query=true")


@pytest.mark.slow
def test_two_ranks_match_one_process_and_resume_on_one(tmp_path: Path, tiny_config, tiny_dir: Path) -> None:
    """Same samples, loss and updated weights on 2 gloo ranks as on 1 process; the checkpoint resumes on 1 process."""
    single_dir, dist_dir = tmp_path / "single", tmp_path / "dist"
    parity = (*PARITY, f"model.path={tiny_dir}")
    GRPOTrainer(tiny_config(single_dir, *parity)).fit()
    config_file = tmp_path / "dist.yaml"
    config_file.write_text(dump_config(tiny_config(dist_dir, *parity)))
    torchrun(["-m", "rethinker.cli", "train", str(config_file)])

    single, dist = _metrics(single_dir)[-1], _metrics(dist_dir)[-1]
    for key in ("reward/mean", "groups/effective_frac", "batch/size", "adv/abs_mean", "rollout/samples_total"):
        assert single[key] == dist[key], key
    for key in ("loss/policy", "grad_norm", "policy/ratio_mean"):
        assert dist[key] == pytest.approx(single[key], rel=1e-5, abs=1e-7), key
    weights_single = load_file(single_dir / "checkpoints" / "step-1" / "model.safetensors")
    weights_dist = load_file(dist_dir / "checkpoints" / "step-1" / "model.safetensors")
    assert set(weights_single) == set(weights_dist)
    assert all(torch.allclose(weights_single[k], weights_dist[k], rtol=0, atol=1e-5) for k in weights_single)
    start = load_file(dist_dir / "checkpoints" / "step-1" / "model.safetensors")

    resumed = GRPOTrainer(tiny_config(dist_dir, "train.steps=2", *parity[1:], "resume=true"))
    assert resumed.step == 1
    assert all(torch.equal(p, start[n]) for n, p in resumed.policy.model.named_parameters() if n in start)
    assert resumed.optimizer.state_dict()["state"], "optimizer moments restored"
    final = resumed.fit()
    assert final.name == "step-2"
    assert [row["step"] for row in _metrics(dist_dir)] == [1, 2]
