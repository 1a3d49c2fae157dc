"""Just enough of torch.distributed for data-parallel LM training under ``torchrun``.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment, or 1) everything here is a no-op and
training runs in one process. Under ``torchrun --nproc_per_node N`` every process joins one group
(gloo on CPU, nccl on GPU); the trainer shards the rows of each global minibatch across the ranks and
sums evaluation figures with :meth:`Distributed.sum`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from textkit.errors import UsageError


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and logs."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def sum(self, *values: float) -> list[float]:
        """Sum numbers over all processes (float64, so counts stay exact)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every process if it is true on one (e.g. a stop request after Ctrl-C)."""
        return self.sum(float(flag))[0] > 0 if self.enabled else flag

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def gather_rows(self, tensor: torch.Tensor, dim: int) -> torch.Tensor:
        """Interleave every rank's rows along ``dim``: row ``r + W*i`` comes from rank ``r``'s row ``i``."""
        if not self.enabled:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        stacked = torch.stack(parts, dim=dim + 1)  # (..., rows_per_rank, world, ...)
        shape = list(tensor.shape)
        shape[dim] *= self.world_size
        return stacked.reshape(shape)


def resolve_device(choice: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit unavailable device is a usage error."""
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("device cuda: no CUDA GPU is available here; use cpu or auto")
    if choice == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("device mps: Apple's MPS backend is not available here; use cpu or auto")
    if choice not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unknown device {choice!r}; choose auto, cpu, cuda or mps")
    return torch.device(choice)


def setup_distributed(device_choice: str) -> Distributed:
    """Join the ``torchrun`` process group if there is one; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_choice)
    if world_size <= 1:
        return Distributed(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank=rank, world_size=world_size, device=device)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
