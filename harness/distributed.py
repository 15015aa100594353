"""Several processes training one model: which one is rank 0, and how the others keep pace.

``torchrun --nproc_per_node N`` and ``accelerate launch --num_processes N`` start
N copies of the same command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set.
Training is data-parallel (DDP through transformers' Trainer, or sharded: training/sharding.py): every rank trains
on its own share of each optimizer step's batch. Everything else (writing the run
folder, evaluating, deciding, rendering reports) is rank 0's alone.

The launcher's batch settings are per rank, as in Axolotl and transformers:
one optimizer step trains ``micro_batch_size × gradient_accumulation_steps ×
world_size`` examples.

Control messages (a training job, a stop, a flag) travel over a separate gloo
group: a rank waiting while rank 0 evaluates waits on a socket rather than a
spinning GPU kernel, and the messages need no CUDA tensors.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Any, Iterator

# Rank 0 may evaluate for hours while the other ranks wait for their next training job.
WAIT = datetime.timedelta(hours=12)

_control: Any = None  # the gloo group for control messages, once joined


def world_size() -> int:
    """How many processes the launcher started (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process writes files, evaluates and decides (rank 0)."""
    return rank() == 0


def join() -> None:
    """Join the launcher's process group (idempotent; nothing to do in a single process).

    On GPUs each rank takes the GPU of its ``LOCAL_RANK`` before any model loads,
    so "cuda" means that GPU for the rest of the process.
    """
    global _control
    if world_size() <= 1 or _control is not None:
        return
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=WAIT)
    _control = dist.new_group(backend="gloo", timeout=WAIT)


def leave() -> None:
    """Leave the process group (the end of a command)."""
    global _control
    if _control is None:
        return
    import torch.distributed as dist

    _control = None
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session() -> Iterator[None]:
    """A command's time in the process group: joined on entry, left on the way out."""
    join()
    try:
        yield
    finally:
        leave()


def barrier() -> None:
    """Wait until every rank gets here (e.g. until rank 0 has prepared a folder)."""
    if _control is not None:
        import torch.distributed as dist

        dist.barrier(group=_control)


def broadcast(value: Any = None) -> Any:
    """Rank 0's ``value`` (any picklable object), on every rank."""
    if _control is None:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0, group=_control)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
    if _control is None:
        return [value]
    import torch.distributed as dist

    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value, group=_control)
    return values


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on at least one rank (so all ranks take the same branch)."""
    return bool(sum_over_ranks([int(bool(flag))])[0])


def sum_over_ranks(values: list[int]) -> list[int]:
    """``values`` added up element-wise over all ranks."""
    if _control is None:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.long)
    dist.all_reduce(tensor, group=_control)
    return [int(v) for v in tensor.tolist()]


__all__ = ["any_rank", "barrier", "broadcast", "gather", "is_main", "join", "leave", "rank", "session", "sum_over_ranks",
           "world_size"]
