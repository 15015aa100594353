"""The memory check at the start of a training run: before any data or weights load.

On a GPU a plan that does not fit stops the run, naming what would make it fit.
On a CPU the run stops only when even the plan's low end (less its tolerance)
exceeds the RAM available now: RAM is shared with everything else on the machine,
swap may absorb some, and a refusal there should never be a false one.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from harness.errors import UsageError
from harness.memory.plan import GIB, TOLERANCE
from harness.memory.report import plan_config
from harness.memory.target import device_target


def check_memory_at_start(config: Any, say: Callable[[str], None] = print) -> None:
    """Print the plan for the device this run trains on; raise :class:`UsageError` if it cannot fit."""
    from harness.models.loading import pick_device

    device = pick_device(config.device)
    target = device_target(device, int(os.environ.get("WORLD_SIZE", "1") or 1))
    report = plan_config(config, target)
    for line in report.lines:
        say(line)
    if report.fits:
        return
    if target.kind == "cpu" and report.plan.resident_bytes * (1 - TOLERANCE) <= target.memory_gib * GIB:
        say(f"warning: the memory plan is above the RAM available now, within its ±{TOLERANCE:.0%}; "
            "continuing (swap, or a smaller peak, may carry it)")
        return
    raise UsageError("this machine cannot run the config: " + str(report.problem))
