"""Data-parallel training over several processes: PyTorch's DistributedDataParallel under torchrun.

``torchrun --nproc-per-node N -m playground.runner.worker <run>`` starts N copies of the worker;
torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and the rendezvous) in each one's
environment. :func:`context_from_env` reads them; ``training.train`` then:

* joins the process group (gloo on the CPU, nccl on CUDA, one GPU per local rank);
* on CUDA, turns BatchNorm layers into SyncBatchNorm (:func:`sync_batchnorm`);
* wraps the model in ``DistributedDataParallel``, which averages the gradients over the ranks in
  the backward pass (``torch.nn.parallel.DistributedDataParallel``);
* draws the same shuffled order on every rank (the same seeded generator) and gives each rank its
  slice of every global batch (:func:`shard`): the global batch size stays what the user set, each
  rank takes ``batch / N`` examples; the loss is scaled so that the averaged gradient is the
  gradient of the global batch's mean loss, also when the last batch does not split evenly;
* checks the stop request on every rank together (:class:`AgreedStop`), so that no rank waits
  alone in an all-reduce;
* adds the epoch's training loss, correct answers and examples over the ranks.

Rank 0 alone writes metrics and checkpoints (``runner.worker``). Source: PyTorch's "Getting
Started with Distributed Data Parallel" tutorial, https://pytorch.org/tutorials/intermediate/ddp_tutorial.html.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a data-parallel run.

    Attributes:
        rank: 0 .. world_size - 1 over every machine.
        world_size: processes in the run.
        local_rank: the process's index on its machine (its GPU on a CUDA machine).
    """

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes metrics and checkpoints."""
        return self.rank == 0


def context_from_env() -> DistributedContext | None:
    """The torchrun context of this process, or ``None`` when it runs alone (``WORLD_SIZE`` unset or 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    return DistributedContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def join(context: DistributedContext, device: torch.device) -> torch.device:
    """Join the process group (once per process) and return the device this rank trains on.

    CUDA: the GPU of its local rank, nccl. Otherwise: the CPU, gloo.
    """
    if device.type == "cuda":
        device = torch.device("cuda", context.local_rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """On CUDA, ``model`` with every BatchNorm layer as a ``SyncBatchNorm`` (statistics over the global batch).

    ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` replaces the layers in place (the same
    parameters and buffers, the same state-dict keys, so a checkpoint loads into the plain model).
    Elsewhere ``model`` is returned as it is: PyTorch's SyncBatchNorm runs on GPUs only, so on the
    CPU (gloo) each rank normalises with its own slice's statistics (batch / N examples).
    """
    if device.type != "cuda" or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def leave() -> None:
    """Leave the process group (the end of a worker)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(indices: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """This rank's contiguous slice of a global batch's ``(B,)`` indices (sizes differ by at most one)."""
    return torch.tensor_split(indices, context.world_size)[context.rank]


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Each value summed over the ranks (one all-reduce)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.tolist()]


class AgreedStop:
    """A stop request that every rank sees at the same batch.

    ``is_set()`` is an all-reduce (max) of the local events: once any rank's event is set, every
    rank's next ``is_set()`` is True. The training loop calls it once per batch on every rank.
    """

    def __init__(self, event: threading.Event | None, device: torch.device) -> None:
        self.event = event
        self.device = device

    def is_set(self) -> bool:
        local = 1.0 if self.event is not None and self.event.is_set() else 0.0
        flag = torch.tensor([local], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def set(self) -> None:
        if self.event is not None:
            self.event.set()
