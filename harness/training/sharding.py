"""Axolotl's ``fsdp`` / ``fsdp_config`` / ``fsdp_version`` and ``deepspeed``, as transformers' arguments.

Sharding spreads the weights, gradients and optimizer state over the GPUs of one
launch (``accelerate launch`` or ``torchrun``); the engine hands these settings to
transformers' ``TrainingArguments``, which builds accelerate's FSDP or DeepSpeed
plugin. Axolotl spells FSDP's settings its own way, so they are translated here:

- ``fsdp: [full_shard, auto_wrap, offload]`` (Axolotl's list, FSDP1's words) becomes
  FSDP on, ``reshard_after_forward`` (full_shard: true, shard_grad_op: false),
  the transformer-layer wrap policy, and ``cpu_offload``;
- ``fsdp_config`` keys lose Axolotl's ``fsdp_`` prefix (transformers reads both) and
  ``offload_params`` is transformers' ``cpu_offload``; ``sharding_strategy``
  becomes ``reshard_after_forward`` as above;
- ``fsdp_version`` (Axolotl's top-level key) is ``fsdp_config.version``; FSDP2 when
  unset, transformers' default (its FSDP1 is deprecated).

Where sharding cannot happen, a run stops at its start instead of silently
training unsharded (:func:`sharding_problems`): accelerate shards only GPUs (on
CPUs its ``MULTI_CPU`` mode runs plain DDP and drops the FSDP plugin, checked
against accelerate 1.x), and only under a launcher.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

# Axolotl's (FSDP1's) sharding strategies as FSDP2's reshard_after_forward.
RESHARD = {"full_shard": True, "shard_grad_op": False, "hybrid_shard": True, "no_shard": False}


def wants_sharding(settings: Any) -> bool:
    return bool(getattr(settings, "fsdp", None) or getattr(settings, "deepspeed", None))


def fsdp_config(settings: Any) -> dict[str, Any] | None:
    """transformers' ``fsdp_config`` for Axolotl's keys, or None when FSDP is off."""
    if not getattr(settings, "fsdp", None):
        return None
    words = settings.fsdp.split() if isinstance(settings.fsdp, str) else list(settings.fsdp)
    config: dict[str, Any] = {}
    for word in words:
        if word in RESHARD:
            config["reshard_after_forward"] = RESHARD[word]
        elif word == "auto_wrap":
            config["auto_wrap_policy"] = "TRANSFORMER_BASED_WRAP"
        elif word == "offload":
            config["cpu_offload"] = True
    for key, value in (getattr(settings, "fsdp_config", None) or {}).items():
        key = key.removeprefix("fsdp_")
        if key == "offload_params":
            config["cpu_offload"] = value
        elif key == "sharding_strategy":
            config["reshard_after_forward"] = RESHARD.get(str(value).lower(), True)
        else:
            config[key] = value
    version = getattr(settings, "fsdp_version", None)
    if version is not None:
        config["version"] = version
    config.setdefault("version", 2)
    config.setdefault("state_dict_type", "FULL_STATE_DICT")  # the saved model: a plain transformers folder
    return config


def sharding_arguments(settings: Any) -> dict[str, Any]:
    """The ``TrainingArguments`` keywords that turn sharding on (none when it is off)."""
    arguments: dict[str, Any] = {}
    config = fsdp_config(settings)
    if config is not None:
        arguments.update(fsdp=True, fsdp_config=config)
    if getattr(settings, "deepspeed", None):
        given = settings.deepspeed
        arguments["deepspeed"] = (str(settings.resolve_path(given)) if isinstance(given, str)
                                  and hasattr(settings, "resolve_path") else given)
    return arguments


def sharding_problems(settings: Any) -> list[str]:
    """Why sharding as configured cannot run here (empty when it can, or when it is off)."""
    if not wants_sharding(settings):
        return []
    asked = "fsdp" if getattr(settings, "fsdp", None) else "deepspeed"
    problems = []
    if getattr(settings, "fsdp", None) and getattr(settings, "deepspeed", None):
        problems.append("fsdp and deepspeed are both set; choose one")
    import torch

    if not torch.cuda.is_available():
        problems.append(f"{asked} shards training across GPUs, and none is here (on CPUs accelerate runs plain "
                        "DDP and drops the sharding); instead: remove it (DDP under `accelerate launch` on CPUs), "
                        "or use adapter: lora")
    elif "LOCAL_RANK" not in os.environ:
        problems.append(f"{asked} shards across the processes of one launch; start the run with `accelerate "
                        "launch -m harness ...` or `torchrun --nproc-per-node N -m harness ...`")
    given = getattr(settings, "deepspeed", None)
    if given:
        if importlib.util.find_spec("deepspeed") is None:
            problems.append("deepspeed needs the deepspeed package: pip install deepspeed")
        if isinstance(given, str):
            path = settings.resolve_path(given) if hasattr(settings, "resolve_path") else given
            if not os.path.isfile(path):
                problems.append(f"deepspeed: {path} is not a file (a DeepSpeed JSON config, e.g. ZeRO-3)")
    return problems


__all__ = ["fsdp_config", "sharding_arguments", "sharding_problems", "wants_sharding"]
