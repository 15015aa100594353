"""The Trainer over a model harness sharded itself (cpu_sharding.py): no second wrap, gathered saves.

transformers' Trainer does not know the model is sharded (accelerate's FSDP plugin
is off on CPUs), so left alone it would

- hand the model to ``accelerator.prepare``, which wraps it in DDP (and refuses
  DTensor parameters there);
- save only rank 0's shards, and only rank 0's optimizer state;
- load a checkpoint's full tensors into DTensor parameters.

:class:`SelfShardedTrainer` fixes those four places and nothing else. The wrap is
avoided the way transformers avoids it for models it shards at load time: the
model goes through ``accelerator.prepare_model(..., evaluation_mode=True)`` once,
which gives it accelerate's autocast but no DDP and marks it prepared, so the
``prepare(model, optimizer)`` that follows returns it untouched and prepares only
the optimizer. That keeps the Trainer's own loop (accumulation, clipping through
accelerate's DTensor-aware norm, the optimizer step) as it is for every run.

Checkpoints are gathered, not sharded: the weights as a plain transformers folder
and the optimizer state as the ``optimizer.pt`` one process would write (torch's
own format, parameters numbered in the optimizer's order), both written by rank 0
into the staging folder that checkpoints.py publishes atomically; on resume rank 0
reads them and torch's ``set_*_state_dict`` broadcast each rank its shards. One
folder, one writer, the same files as an unsharded run's, so either run resumes
the other's checkpoint on any number of ranks; the price is the full state in
rank 0's host memory while saving, which a CPU run has.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from harness import distributed
from harness.files import write_atomic
from harness.training.cpu_sharding import memory_held, plain_optimizer

OPTIMIZER_FILE = "optimizer.pt"  # transformers' names, so a checkpoint looks like any other
SCHEDULER_FILE = "scheduler.pt"
SIZES_FILE = "sharding.json"


def _full_options(**extra: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True, **extra)


def gather_weights(model: Any) -> dict[str, torch.Tensor]:
    """The whole model's state dict on rank 0 (CPU tensors); empty on the others. Every rank must call it."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_full_options())


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a transformers folder's safetensors files (one file, or shards with an index)."""
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file() else [
        "model.safetensors"]
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        weights.update(load_file(str(folder / name)))
    return weights


def load_weights(model: Any, folder: Path) -> None:
    """Rank 0 reads a transformers folder; each rank receives its shards of it. Every rank must call it."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    weights = read_weights(folder) if distributed.is_main() else {}
    tied = getattr(model, "_tied_weights_keys", None)
    if weights and isinstance(tied, dict):
        # save_pretrained writes a tied weight once; its twin is the same parameter here.
        for target, source in tied.items():
            if target not in weights and source in weights:
                weights[target] = weights[source]
    set_model_state_dict(model, weights, options=_full_options(broadcast_from_rank0=True))


def _names_in_optimizer_order(model: Any, optimizer: Any) -> list[str]:
    """Each parameter's name, in the order torch's own optimizer state numbers them."""
    names = {id(p): name for name, p in model.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def _renumbered(state: dict[str, Any], keys: dict[Any, Any]) -> dict[str, Any]:
    """An optimizer state dict with its parameter keys mapped through ``keys`` (names <-> numbers)."""
    return {"state": {keys[k]: v for k, v in state["state"].items()},
            "param_groups": [{**group, "params": [keys[k] for k in group["params"]]} for group in state["param_groups"]]}


class SelfShardedTrainer:
    """Mixed into ``HarnessTrainer`` (before it) when cpu_sharding.shard has sharded the model."""

    def _wrap_model(self, model: Any, training: bool = True, dataloader: Any = None) -> Any:
        if not getattr(model, "_is_accelerate_prepared", False):
            model = self.accelerator.prepare_model(model, device_placement=False, evaluation_mode=True)
        return model

    def _move_model_to_device(self, model: Any, device: Any) -> None:
        pass  # the shards are where the run trains: the CPU

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        weights = gather_weights(self.model)  # every rank takes part in the gather
        if self.args.should_save:
            self._save(output_dir, state_dict=weights)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        optimizer = plain_optimizer(self.optimizer)
        state = get_optimizer_state_dict(self.model, optimizer, options=_full_options())  # keyed by name
        if self.args.should_save:
            order = _names_in_optimizer_order(self.model, optimizer)
            numbered = _renumbered(state, {name: i for i, name in enumerate(order)})
            torch.save(numbered, os.path.join(output_dir, OPTIMIZER_FILE))
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_FILE))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        load_weights(model if model is not None else self.model, Path(resume_from_checkpoint))

    def _load_best_model(self) -> None:
        load_weights(self.model, Path(self.state.best_model_checkpoint))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        folder = Path(checkpoint)
        optimizer = plain_optimizer(self.optimizer)
        state = {}
        if distributed.is_main():
            order = _names_in_optimizer_order(self.model, optimizer)
            state = _renumbered(torch.load(folder / OPTIMIZER_FILE, weights_only=True), dict(enumerate(order)))
        set_optimizer_state_dict(self.model, optimizer, state, options=_full_options(broadcast_from_rank0=True))
        self.lr_scheduler.load_state_dict(torch.load(folder / SCHEDULER_FILE, weights_only=True))


class ShardSizesWriter(TrainerCallback):
    """After the first optimizer step (when the optimizer state exists): what each rank holds, in sharding.json."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / SIZES_FILE
        self.done = False

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        if self.done:
            return
        self.done = True
        ranks = distributed.gather(memory_held(model, optimizer))
        if distributed.is_main():
            write_atomic(self.path, json.dumps({"processes": len(ranks), "ranks": ranks}, indent=2) + "\n")
            held, whole = ranks[0], ranks[0]["parameter_bytes_unsharded"] + ranks[0]["optimizer_bytes_unsharded"]
            print(f"fsdp: rank 0 holds {held['parameters']:,} of {held['parameters_unsharded']:,} parameters; "
                  f"parameters + optimizer state {(held['parameter_bytes'] + held['optimizer_bytes']) / 2**20:.2f} "
                  f"MiB of {whole / 2**20:.2f} MiB unsharded")


__all__ = ["SelfShardedTrainer", "ShardSizesWriter", "gather_weights", "load_weights", "read_weights"]
