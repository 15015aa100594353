"""Let a CPU training process reuse the memory it frees instead of faulting in fresh pages.

A training step on a CPU allocates and frees the same large activations,
gradients and masks over and over. glibc's ``malloc`` serves each block above
its mmap threshold (128 KiB at first, adapting up to 32 MiB) with a fresh
``mmap`` and returns it to the kernel on ``free``, so the next step pays a page
fault for every 4 KiB it touches again. Raising the threshold and the heap's
trim threshold keeps freed blocks in the heap for the next step: measured on the
seed's LoRA recipe (SmolLM2-135M, bf16, 8 steps of 4x2, 2 cores, alternating
processes) 150-155 useful tokens/s became 170-173, with the same losses bit for
bit (allocation never changes what is computed). The cost is that the process
keeps its peak heap until it exits, which a training process reaches every step
anyway.

Only glibc has these knobs (``mallopt``); elsewhere (macOS, musl) this does nothing.
GPU training allocates through CUDA's caching allocator and is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h) and the values set: above any tensor a step allocates.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BELOW_BYTES = 1 << 30
_TRIM_ABOVE_BYTES = (1 << 31) - 1

@functools.cache  # once per process: the setting is process-wide
def reuse_freed_memory() -> bool:
    """Keep freed blocks in the heap for reuse (glibc only); True when the setting is in effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BELOW_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_ABOVE_BYTES))
    log.debug("glibc malloc keeps freed blocks for reuse: %s", applied)
    return applied


__all__ = ["reuse_freed_memory"]
