"""Torch's CPU threads that keep spinning between operators, for the commands that compute.

torch's CPU build runs its parallel operators on libgomp's OpenMP threads, and
by default libgomp lets a thread spin only briefly after an operator before it
goes to sleep. A LoRA training step on a CPU is thousands of operators of a
millisecond or less (the adapters' small matrices, elementwise work), so the
threads fall asleep and are woken again thousands of times a step. With
``OMP_WAIT_POLICY=ACTIVE`` they keep spinning: on the seed's LoRA recipe
(SmolLM2-135M, bf16, 2 cores) 8 real micro-batches ran at 181-182 useful
tokens/s with the default and 196-203 with ACTIVE (alternating processes, 6 of 6
pairs faster).

libgomp reads the policy once, as torch loads it, so it is put in the
environment just for the first ``import torch`` and taken out again: child
processes (a launcher's ranks, Ray workers, tokenizer pools) do not inherit
threads that would spin while they share the cores. It is left alone when the
user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` (set ``OMP_WAIT_POLICY=PASSIVE``
to opt out), when torch is already imported, when several processes share the
machine (``LOCAL_WORLD_SIZE`` above 1, as a launcher sets it), and when a GPU is
present (the CPU mostly waits for it there, and spinning threads would take
cores from data loading).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

POLICY = "OMP_WAIT_POLICY"
USER_SETTINGS = (POLICY, "GOMP_SPINCOUNT")
# Device nodes of an NVIDIA (CUDA) or AMD (ROCm) driver: a GPU machine, told apart without loading torch.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/kfd")


def spinning_allowed(environ: Mapping[str, str]) -> bool:
    """Whether this process may make torch's threads spin: no user setting, no shared cores, no GPU."""
    if any(name in environ for name in USER_SETTINGS):
        return False
    try:
        if int(environ.get("LOCAL_WORLD_SIZE", "1")) > 1:
            return False
    except ValueError:
        return False
    return not any(Path(node).exists() for node in GPU_DEVICE_NODES)


def import_torch_with_spinning_threads() -> bool:
    """Import torch with its OpenMP threads spinning, for this process only; True when it did."""
    if "torch" in sys.modules or not spinning_allowed(os.environ):
        return False  # too late (libgomp is loaded), or not wanted here
    os.environ[POLICY] = "ACTIVE"
    try:
        import torch  # noqa: F401  libgomp reads the policy as torch loads it
    finally:
        del os.environ[POLICY]
    return True


__all__ = ["import_torch_with_spinning_threads", "spinning_allowed"]
