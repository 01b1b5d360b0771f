"""Data-parallel training under torchrun: process group, rank helpers, metric reductions, FSDP2 wrapping, full states.

Without torchrun's environment (WORLD_SIZE unset or 1) every helper is a no-op and the trainer runs as one process.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job: its global rank, the number of processes, and its rank on this node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs and checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """The device this rank computes on: its local GPU under NCCL, else the CPU."""
        if self.active and torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def env_from(environ: Mapping[str, str]) -> DistEnv:
    """The rank layout torchrun describes in `RANK`, `WORLD_SIZE` and `LOCAL_RANK` (absent: a single process)."""
    return DistEnv(
        rank=int(environ.get("RANK", 0)),
        world_size=int(environ.get("WORLD_SIZE", 1)),
        local_rank=int(environ.get("LOCAL_RANK", 0)),
    )


def init_distributed(backend: str = "auto", timeout_s: float = 7200.0) -> DistEnv:
    """Join the process group torchrun set up (NCCL with GPUs, gloo on CPU under `auto`); a no-op for one process."""
    env = env_from(os.environ)
    if not env.active or dist.is_initialized():
        return env
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return env


def shutdown() -> None:
    """Leave the process group, if one was joined. Drop sharded modules and optimizers first: their DTensors hold the
    group, and a group destroyed under live DTensors can abort the process as the interpreter exits."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if dist.is_initialized():
        dist.barrier()


def shard_bounds(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, end) of rank's contiguous share of `count` items; shares differ in size by at most one."""
    base, extra = divmod(count, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def gather_lists(items: list[T]) -> list[T]:
    """Every rank's list concatenated in rank order, on every rank (objects travel pickled between our own ranks)."""
    if not dist.is_initialized():
        return items
    gathered: list[list[T] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in (part or [])]


def sum_across_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Each metric summed over the ranks (for per-rank parts of a global total)."""
    if not dist.is_initialized():
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return dict(zip(keys, tensor.cpu().tolist(), strict=True))


def mean_across_ranks(values: Mapping[str, float], weight: float) -> dict[str, float]:
    """Each metric averaged over the ranks, rank r weighted by `weight` (e.g. its number of samples)."""
    if not dist.is_initialized():
        return dict(values)
    summed = sum_across_ranks({**{k: v * weight for k, v in values.items()}, "\0weight": weight})
    total = summed.pop("\0weight")
    return {k: v / total if total else 0.0 for k, v in summed.items()}


def rank_chunks(chunks: Sequence[T], rank: int, world_size: int) -> list[tuple[T, float]]:
    """This rank's micro-batches, each with a scale: 1.0 for its own, 0.0 for padding.

    Chunks are dealt round-robin; a rank left with fewer repeats the first chunk at scale 0 so that every rank runs the
    same number of forward/backward passes (FSDP's collectives need that) without changing the gradient.
    """
    mine = [(chunk, 1.0) for chunk in chunks[rank::world_size]]
    rounds = math.ceil(len(chunks) / world_size)
    return mine + [(chunks[0], 0.0)] * (rounds - len(mine))


def shard_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """FSDP2: shard every transformer block, then the root; bf16 compute with fp32 reductions on GPU.

    FSDP averages gradients across ranks; `policy_update` scales each rank's loss by the world size to undo that.
    """
    model.to(device)
    mixed = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    options: dict[str, Any] = {"mp_policy": mixed} if device.type == "cuda" else {}
    block_names = set(getattr(model, "_no_split_modules", None) or [])
    for module in model.modules():
        if type(module).__name__ in block_names:
            fully_shard(module, **options)
    fully_shard(model, **options)
    return model


def copy_weights(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Copy `source`'s parameters into the plain module `target`, gathering sharded ones one tensor at a time.

    Every rank calls this (each gather is a collective); no rank holds more than one extra full tensor at once.
    """
    targets = dict(target.named_parameters())
    with torch.no_grad():
        for name, param in source.named_parameters():
            targets[name].copy_(param.full_tensor() if isinstance(param, DTensor) else param)


def optimizer_state(optimizer: torch.optim.Optimizer, keep: bool = True) -> dict[str, Any]:
    """The optimizer state in the single-process layout, whatever the world size.

    Under FSDP each sharded moment is gathered one tensor at a time (a collective: every rank calls this) and kept, on
    the CPU, only where `keep` is true (rank 0), so no rank holds more than one full tensor it does not need.
    """
    state = optimizer.state_dict()
    if not dist.is_initialized():
        return state
    gathered: dict[int, dict[str, Any]] = {}
    for index, values in state["state"].items():
        full = {k: v.full_tensor().cpu() if isinstance(v, DTensor) else v for k, v in values.items()}
        if keep:
            gathered[index] = full
    return {"state": gathered, "param_groups": state["param_groups"]}


def shard_like(value: Any, param: torch.Tensor) -> Any:
    """`value` cut to this rank's shard of `param` when `param` is sharded and shaped alike; else unchanged."""
    if isinstance(param, DTensor) and isinstance(value, torch.Tensor) and value.shape == param.shape:
        return distribute_tensor(value.to(param.device), param.device_mesh, param.placements, src_data_rank=None)
    return value


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Restore a state saved by `optimizer_state` on any world size (each rank keeps its own shard)."""
    if dist.is_initialized():
        params = [p for group in optimizer.param_groups for p in group["params"]]
        local = {
            int(i): {k: shard_like(v, params[int(i)]) for k, v in values.items()}
            for i, values in state["state"].items()
        }
        state = {"state": local, "param_groups": state["param_groups"]}
    optimizer.load_state_dict(state)


class SilentLogger:
    """The metrics logger of ranks other than 0: accepts every call, writes nothing."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Discard `metrics`."""

    def histogram(self, step: int, name: str, values: torch.Tensor) -> None:
        """Discard `values`."""

    def truncate_after(self, step: int) -> None:
        """Nothing to truncate."""

    def close(self) -> None:
        """Nothing to close."""
