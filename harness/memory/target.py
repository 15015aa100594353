"""What a memory plan is checked against: the GPUs asked for, the GPUs here, or this machine's RAM.

Nothing here imports torch unless it is already imported: ``harness validate`` reads
the GPUs through ``nvidia-smi`` and the RAM from ``/proc/meminfo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from harness.errors import UsageError
from harness.memory.plan import GIB, Target


def gpus_here() -> list[float]:
    """The memory of each CUDA GPU this process may use, in GiB (empty without one)."""
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return [torch.cuda.get_device_properties(i).total_memory / GIB for i in range(torch.cuda.device_count())]
        return []
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    sizes = [float(line) / 1024 for line in out.split() if line.strip().replace(".", "", 1).isdigit()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not all(part.strip().isdigit() for part in visible.split(",") if part.strip()):
        return sizes  # unset, or GPUs named by UUID: every GPU listed
    return [sizes[int(part)] for part in visible.split(",") if part.strip() and int(part) < len(sizes)]


def ram_gib(available: bool = False) -> float:
    """This machine's RAM (``available``: what the kernel says a new allocation can still get)."""
    key = "MemAvailable:" if available else "MemTotal:"
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB


def planned_target(gpu_memory: float | None = None, gpus: int | None = None) -> tuple[Target, bool]:
    """The target ``harness validate`` plans for, and whether the user named it (``--gpu-memory``/``--gpus``)."""
    here = gpus_here()
    if gpu_memory is not None:
        return Target("cuda", gpus or len(here) or 1, gpu_memory,
                      "--gpu-memory" + (", --gpus" if gpus else "")), True
    if here:
        return Target("cuda", gpus or len(here), min(here), "the GPUs here" + (", --gpus" if gpus else "")), \
            gpus is not None
    if gpus is not None:
        raise UsageError(f"--gpus {gpus}: say how much memory each has with --gpu-memory GB (no GPU here to ask)")
    return Target("cpu", 1, ram_gib(), "this machine's RAM; no GPU here"), False


def device_target(device: str, processes: int) -> Target:
    """The target a run starting now trains on: its GPU, or this machine's available RAM shared by its processes."""
    if device.startswith("cuda"):
        import torch

        index = torch.cuda.current_device()
        return Target("cuda", processes, torch.cuda.get_device_properties(index).total_memory / GIB,
                      f"{torch.cuda.get_device_name(index)}")
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return Target("cpu", processes, ram_gib(available=True) / local,
                  "available RAM" + (f" shared by {local} processes" if local > 1 else ""))
