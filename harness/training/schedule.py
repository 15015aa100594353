"""Learning-rate schedules: the seed's five shapes, each with optional warmup and floor.

transformers has a cosine with a minimum LR but no restarts or linear decay with
one, so the shapes are built here as one multiplier function: linear warmup from
0, then the shape's decay from 1 down to ``min_lr / learning_rate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

WARMUP_SHARE = 0.05  # the seed's rule: 5% of total steps when warmup_steps is not set


def default_warmup_steps(total_steps: int, warmup_steps: int | None) -> int:
    """``warmup_steps`` if given, else 5% of the total optimizer steps (rounded down)."""
    return warmup_steps if warmup_steps is not None else int(WARMUP_SHARE * total_steps)


@dataclass
class LrMultiplier:
    """A picklable ``step -> factor`` function for ``LambdaLR`` (its state is saved in checkpoints)."""

    kind: str
    total_steps: int
    warmup_steps: int
    floor: float = 0.0  # min_lr / learning_rate
    num_cycles: float = 1.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.kind in ("constant", "constant_with_warmup"):
            return 1.0
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        if self.kind == "linear":
            shape = 1.0 - progress
        elif self.kind == "cosine":
            shape = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.kind == "cosine_with_restarts":
            if progress >= 1.0:
                shape = 0.0
            else:
                cycle_progress = (progress * self.num_cycles) % 1.0
                shape = 0.5 * (1.0 + math.cos(math.pi * cycle_progress))
        else:
            raise ValueError(f"unknown lr_scheduler {self.kind!r}")
        return self.floor + (1.0 - self.floor) * shape


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    kind: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int,
    min_lr: float | None = None,
    num_cycles: float | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following one of the seed's schedules."""
    floor = min(1.0, (min_lr or 0.0) / learning_rate)
    multiplier = LrMultiplier(kind, total_steps, warmup_steps, floor, num_cycles or 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)
