"""Settings only a CUDA GPU with bitsandbytes can honour: checked when a run starts, not at validation.

Imports nothing heavy until a setting needs the check (``harness validate`` loads no torch otherwise).

A config written for the GPU it will run on (Axolotl's ``load_in_8bit: true``,
``optimizer: adamw_bnb_8bit``) is valid wherever it is validated; ``harness validate``
on a laptop says what this machine could not run, and a run here stops at its start,
before any data or weights load, saying what to use instead.
"""

from __future__ import annotations

import importlib.util
from typing import Any

# Optimizers whose state bitsandbytes keeps in 8 bits or pages to host memory (transformers' names).
BNB_OPTIMIZERS = ("adamw_bnb_8bit", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "lion_8bit",
                  "paged_lion_8bit", "paged_lion_32bit")


def gpu_only_problems(config: Any, trainer: str | None = None) -> list[str]:
    """Why this machine cannot run this config (empty when it can); ``trainer`` overrides the config's."""
    wanted = []
    trainer = trainer or (config.trainer.name if config.trainer is not None else None)
    if trainer == "qlora":
        wanted.append("adapter: qlora (a 4-bit NF4 base, bitsandbytes)")
    if getattr(config, "load_in_8bit", False):
        wanted.append("load_in_8bit: true (an 8-bit base, bitsandbytes)")
    if config.optimizer in BNB_OPTIMIZERS:
        wanted.append(f"optimizer: {config.optimizer} (bitsandbytes' optimizer)")
    sharding = []
    if getattr(config, "fsdp", None) or getattr(config, "deepspeed", None):
        from harness.training.sharding import sharding_problems

        sharding = sharding_problems(config)
    if not wanted:
        return sharding
    import torch

    if config.device not in ("auto", "cuda") or not torch.cuda.is_available():
        where = f"device is {config.device!r}" if config.device not in ("auto", "cuda") else "none is here"
        return [f"{what} needs a CUDA GPU ({where}); instead: "
                + ("optimizer: adamw_torch" if what.startswith("optimizer") else
                   "adapter: lora, the same kind of adapter on an unquantised base (bf16 where the CPU has it)")
                for what in wanted] + sharding
    if importlib.util.find_spec("bitsandbytes") is None:
        return [f"{what} needs the bitsandbytes package: pip install 'forgetting-harness[qlora]'"
                for what in wanted] + sharding
    return sharding
