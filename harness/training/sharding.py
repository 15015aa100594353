"""Axolotl's ``fsdp`` / ``fsdp_config`` / ``fsdp_version`` and ``deepspeed``: where and how a run shards.

Sharding spreads the weights, gradients and optimizer state over the processes of
one launch (``accelerate launch`` or ``torchrun``). Axolotl spells FSDP's settings
its own way, so they are translated here first:

- ``fsdp: [full_shard, auto_wrap, offload]`` (Axolotl's list, FSDP1's words) becomes
  FSDP on, ``reshard_after_forward`` (full_shard: true, shard_grad_op: false),
  the transformer-layer wrap policy, and ``cpu_offload``;
- ``fsdp_config`` keys lose Axolotl's ``fsdp_`` prefix (transformers reads both) and
  ``offload_params`` is transformers' ``cpu_offload``; ``sharding_strategy``
  becomes ``reshard_after_forward`` as above;
- ``fsdp_version`` (Axolotl's top-level key) is ``fsdp_config.version``; FSDP2 when
  unset, transformers' default (its FSDP1 is deprecated).

Two paths run the translated settings:

- on GPUs the engine hands them to transformers' ``TrainingArguments``, which
  builds accelerate's FSDP (or DeepSpeed) plugin;
- on CPUs accelerate cannot shard (its ``MULTI_CPU`` mode runs plain DDP and drops
  the FSDP plugin, checked against accelerate 1.16), so harness shards the model
  itself with torch's FSDP2 over gloo and keeps the settings away from
  ``TrainingArguments`` (cpu_sharding.py, sharded_trainer.py).

Where sharding cannot happen, a run stops at its start instead of silently
training unsharded (:func:`sharding_problems`): without a launcher (one process
has nothing to shard over), DeepSpeed on CPUs, and FSDP1 on CPUs.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

# Axolotl's (FSDP1's) sharding strategies as FSDP2's reshard_after_forward.
RESHARD = {"full_shard": True, "shard_grad_op": False, "hybrid_shard": True, "no_shard": False}


def wants_sharding(config: Any) -> bool:
    return bool(getattr(config, "fsdp", None) or getattr(config, "deepspeed", None))


def fsdp_config(config: Any) -> dict[str, Any] | None:
    """transformers' ``fsdp_config`` for Axolotl's keys, or None when FSDP is off."""
    if not getattr(config, "fsdp", None):
        return None
    words = config.fsdp.split() if isinstance(config.fsdp, str) else list(config.fsdp)
    fsdp: dict[str, Any] = {}
    for word in words:
        if word in RESHARD:
            fsdp["reshard_after_forward"] = RESHARD[word]
        elif word == "auto_wrap":
            fsdp["auto_wrap_policy"] = "TRANSFORMER_BASED_WRAP"
        elif word == "offload":
            fsdp["cpu_offload"] = True
    for key, value in (getattr(config, "fsdp_config", None) or {}).items():
        key = key.removeprefix("fsdp_")
        if key == "offload_params":
            fsdp["cpu_offload"] = value
        elif key == "sharding_strategy":
            fsdp["reshard_after_forward"] = RESHARD.get(str(value).lower(), True)
        else:
            fsdp[key] = value
    version = getattr(config, "fsdp_version", None)
    if version is not None:
        fsdp["version"] = version
    fsdp.setdefault("version", 2)
    fsdp.setdefault("state_dict_type", "FULL_STATE_DICT")  # the saved model: a plain transformers folder
    return fsdp


def sharding_arguments(config: Any, device: str = "cuda") -> dict[str, Any]:
    """The ``TrainingArguments`` keywords that turn sharding on (none when it is off, or harness shards on the CPU)."""
    arguments: dict[str, Any] = {}
    config = fsdp_config(config)
    if config is not None and not device.startswith("cpu"):
        arguments.update(fsdp=True, fsdp_config=config)
    if getattr(config, "deepspeed", None):
        given = config.deepspeed
        arguments["deepspeed"] = (str(config.resolve_path(given)) if isinstance(given, str)
                                  and hasattr(config, "resolve_path") else given)
    return arguments


def sharding_problems(config: Any) -> list[str]:
    """Why sharding as configured cannot run here (empty when it can, or when it is off)."""
    if not wants_sharding(config):
        return []
    asked = "fsdp" if getattr(config, "fsdp", None) else "deepspeed"
    problems = []
    if getattr(config, "fsdp", None) and getattr(config, "deepspeed", None):
        problems.append("fsdp and deepspeed are both set; choose one")
    launched = "LOCAL_RANK" in os.environ
    if not launched:
        problems.append(f"{asked} shards across the processes of one launch; start the run with `accelerate "
                        "launch -m harness ...` or `torchrun --nproc-per-node N -m harness ...`")
    if _trains_on_cpu(config):
        if getattr(config, "deepspeed", None):
            problems.append("deepspeed needs a CUDA GPU (this run trains on the CPU); instead: fsdp: [full_shard, "
                            "auto_wrap] under torchrun, which harness shards with torch's FSDP2 on CPUs")
        if launched and int(os.environ.get("WORLD_SIZE", "1")) < 2:
            problems.append(f"{asked} on the CPU needs two or more processes to shard over: "
                            "torchrun --nproc-per-node 2 (or more)")
        problems += _cpu_fsdp_problems(fsdp_config(config)) if getattr(config, "fsdp", None) else []
    given = getattr(config, "deepspeed", None)
    if given:
        if importlib.util.find_spec("deepspeed") is None:
            problems.append("deepspeed needs the deepspeed package: pip install deepspeed")
        if isinstance(given, str):
            path = config.resolve_path(given) if hasattr(config, "resolve_path") else given
            if not os.path.isfile(path):
                problems.append(f"deepspeed: {path} is not a file (a DeepSpeed JSON config, e.g. ZeRO-3)")
    return problems


# fsdp_config keys harness's own FSDP2 on the CPU (cpu_sharding.py) has no use for, and why that is harmless.
CPU_NEEDLESS = {
    "cpu_offload": "a CPU run keeps parameters and optimizer state in host memory already",
    "sync_module_states": "every rank loads the same weights",
    "cpu_ram_efficient_loading": "every rank loads the weights itself",
    "use_orig_params": "FSDP1's; FSDP2 always keeps the original parameters",
    "limit_all_gathers": "FSDP1's",
    "forward_prefetch": "FSDP1's",
    "backward_prefetch": "FSDP1's",
}
CPU_READ = {"reshard_after_forward", "auto_wrap_policy", "transformer_layer_cls_to_wrap", "version", "state_dict_type"}


def _cpu_fsdp_problems(config: dict[str, Any]) -> list[str]:
    """What harness's FSDP2 on the CPU cannot do of a translated fsdp_config (instead of ignoring it)."""
    problems = []
    if config.get("version") == 1:
        problems.append("fsdp_version: 1 runs only on GPUs (accelerate's FSDP1); on the CPU harness shards "
                        "with torch's FSDP2: set fsdp_version: 2, or leave it unset")
    if config.get("auto_wrap_policy") not in (None, "TRANSFORMER_BASED_WRAP", "NO_WRAP"):
        problems.append(f"fsdp_config.auto_wrap_policy: {config['auto_wrap_policy']} is not read on the CPU, which "
                        "wraps each decoder layer (TRANSFORMER_BASED_WRAP) or only the whole model (NO_WRAP)")
    if str(config.get("state_dict_type", "FULL_STATE_DICT")).upper() != "FULL_STATE_DICT":
        problems.append("fsdp_config.state_dict_type: on the CPU checkpoints and the model are saved whole "
                        "(FULL_STATE_DICT); remove the key")
    if config.get("activation_checkpointing"):
        problems.append("fsdp_config.activation_checkpointing: on the CPU use gradient_checkpointing: true instead")
    unknown = sorted(set(config) - CPU_READ - set(CPU_NEEDLESS) - {"activation_checkpointing"})
    if unknown:
        problems.append(f"fsdp_config: {', '.join(unknown)} not read by harness's FSDP2 on the CPU (it reads "
                        f"{', '.join(sorted(CPU_READ | set(CPU_NEEDLESS)))}); remove them, or train on GPUs")
    return problems


def _trains_on_cpu(config: Any) -> bool:
    import torch

    device = getattr(config, "device", "auto")
    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


__all__ = ["fsdp_config", "sharding_arguments", "sharding_problems", "wants_sharding"]
