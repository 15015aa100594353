"""Sharded training on CPUs: harness splits the model over a launch's processes with torch's FSDP2.

accelerate shards only GPUs: on CPUs (its ``MULTI_CPU`` mode) it drops the FSDP
plugin and wraps the model in plain DDP (checked against accelerate 1.16). torch's
own FSDP2 (``torch.distributed.fsdp.fully_shard``) runs on CPUs over gloo, so when
a run sets ``fsdp``, is started by a launcher and trains on the CPU, harness shards
the model itself before the Trainer sees it:

- every decoder layer (the model's ``_no_split_modules``, or
  ``fsdp_config.transformer_layer_cls_to_wrap``) is one FSDP unit, gathered for its
  own forward and backward and reduce-scattered after; the root unit holds the
  rest (embeddings, final norm, head);
- each rank keeps 1/N of every parameter as a DTensor shard, and the optimizer,
  created over those shards, keeps 1/N of its state;
- ``reshard_after_forward`` comes from the translated config (full_shard: true,
  shard_grad_op: false).

``offload`` / ``offload_params`` asks for parameters and optimizer state in host
memory, where a CPU run keeps them anyway; torch's ``CPUOffloadPolicy`` itself
cannot be used here (on a CPU-only machine it fails with "Cannot access
accelerator device when none is available", torch 2.13).

How the Trainer then leaves the model alone, saves and resumes it: sharded_trainer.py.
"""

from __future__ import annotations

import logging
from typing import Any

from harness import distributed
from harness.errors import UsageError

log = logging.getLogger(__name__)


def shards_itself(config: Any, device: str) -> bool:
    """Whether harness shards this run with FSDP2 (fsdp set, several processes, on the CPU)."""
    return bool(getattr(config, "fsdp", None)) and distributed.world_size() > 1 and device.startswith("cpu")


def shard_if_asked(model: Any, config: Any, device: str, *, evaluates: bool) -> bool:
    """Shard ``model`` when harness shards this run itself (:func:`shards_itself`); whether it did.

    ``evaluates``: the run scores the model mid-training on rank 0 alone (the early-warning check),
    which a sharded model, computed by all ranks together, cannot do.
    """
    if not shards_itself(config, device):
        return False
    if distributed.any_rank(evaluates):  # only rank 0 holds the check: every rank must stop, not just it
        raise UsageError("forgetting.early_warning_samples: the early-warning check scores the model on rank 0 "
                         "alone, and a model sharded by fsdp runs only on all ranks together; set "
                         "forgetting.early_warning_samples: 0, or train without fsdp")
    from harness.training.sharding import fsdp_config

    shard(model, fsdp_config(config))
    return True


def layer_classes(model: Any, fsdp: dict[str, Any]) -> set[str]:
    """The class names of the modules that become FSDP units of their own (the decoder layers)."""
    given = fsdp.get("transformer_layer_cls_to_wrap")
    if given:
        return {name.strip() for name in (given.split(",") if isinstance(given, str) else given)}
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(getattr(base, "_no_split_modules", None) or ())


def shard(model: Any, fsdp: dict[str, Any]) -> None:
    """Shard ``model`` in place over the launch's processes: each layer, then the root."""
    from torch.distributed.fsdp import fully_shard

    reshard = bool(fsdp.get("reshard_after_forward", True))
    # As accelerate's FSDP2: layers become units of their own only under the transformer wrap policy (auto_wrap).
    wrapped = layer_classes(model, fsdp) if fsdp.get("auto_wrap_policy") == "TRANSFORMER_BASED_WRAP" else set()
    layers = [m for m in model.modules() if type(m).__name__ in wrapped]
    if wrapped and not layers:
        raise ValueError(f"fsdp: no module of the model is a {sorted(wrapped)}; name the decoder layer's class in "
                         "fsdp_config.transformer_layer_cls_to_wrap")
    for layer in layers:
        fully_shard(layer, reshard_after_forward=reshard)
    fully_shard(model, reshard_after_forward=reshard)  # FSDP2 keeps the root gathered for backward itself
    log.info("fsdp: %d layers and the root sharded over %d processes", len(layers), distributed.world_size())


def tensor_bytes(tensors: Any) -> tuple[int, int, int]:
    """(elements held here, bytes held here, bytes unsharded) of ``tensors`` (DTensor shards or plain)."""
    from torch.distributed.tensor import DTensor

    local = local_bytes = full_bytes = 0
    for tensor in tensors:
        here = tensor.to_local() if isinstance(tensor, DTensor) else tensor
        local += here.numel()
        local_bytes += here.numel() * here.element_size()
        full_bytes += tensor.numel() * tensor.element_size()  # a DTensor's numel is its global size
    return local, local_bytes, full_bytes


def plain_optimizer(optimizer: Any) -> Any:
    """The torch optimizer under accelerate's ``AcceleratedOptimizer`` (or the optimizer itself)."""
    return getattr(optimizer, "optimizer", optimizer)


def memory_held(model: Any, optimizer: Any) -> dict[str, int]:
    """What this rank holds of the parameters and the optimizer state, and what one process would hold."""
    import torch

    state = [v for per_param in plain_optimizer(optimizer).state.values() for v in per_param.values()
             if isinstance(v, torch.Tensor) and v.dim() > 0]  # moments, not the step counters
    elements, param_bytes, full_param_bytes = tensor_bytes(model.parameters())
    _, optimizer_bytes, full_optimizer_bytes = tensor_bytes(state)
    return {"parameters": elements, "parameters_unsharded": sum(p.numel() for p in model.parameters()),
            "parameter_bytes": param_bytes, "parameter_bytes_unsharded": full_param_bytes,
            "optimizer_bytes": optimizer_bytes, "optimizer_bytes_unsharded": full_optimizer_bytes}


__all__ = ["layer_classes", "memory_held", "plain_optimizer", "shard", "shard_if_asked", "shards_itself", "tensor_bytes"]
