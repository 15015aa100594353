"""Weights between the base model and a fine-tune: θ(s) = θ_base + s·(θ_tuned − θ_base).

Interpolating toward the base (WiSE-FT) trades domain gain against forgetting
smoothly and costs evaluation only, no training. For a LoRA adapter the update
is ΔW = scaling·B·A, so scaling B by ``s`` gives exactly θ_base + s·ΔW: the
path is linear in the *update*, not the quadratic path that scaling A and B
each by ``s`` would trace. It always ends at the base (s = 0), never at an
earlier snapshot, so the base model's skills are what it protects.

Two forms, chosen by what was trained:

- **a plain LoRA adapter**: the scaled adapter is written as an ordinary PEFT
  adapter folder (lora_B·s, everything else as trained), and the model at ``s``
  is that folder merged into the base, so what harness scores is bitwise what a
  user gets from ``PeftModel.from_pretrained(base, folder)``;
- **anything else** (full fine-tuning, or an adapter that also trains whole
  modules such as new-token embeddings, or DoRA, whose update is not linear in
  B): every tensor is ``torch.lerp(base, tuned, s)`` in float32, saved as a
  model folder that ``AutoModelForCausalLM.from_pretrained`` loads.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.errors import UsageError
from harness.records import LoadedModel
from harness.files import atomic_folder

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def is_scalable_adapter(folder: Path) -> bool:
    """A LoRA adapter whose whole update is B·A (so scaling B scales the update)."""
    config_file = folder / "adapter_config.json"
    if not config_file.is_file() or not (folder / ADAPTER_WEIGHTS).is_file():
        return False
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return (config.get("peft_type") == "LORA" and not config.get("use_dora")
            and not config.get("modules_to_save") and not config.get("trainable_token_indices"))


def check_scale(scale: float) -> float:
    if not 0.0 <= scale <= 1.0:
        raise UsageError(f"interpolation scale must lie in [0, 1] (0 = the base, 1 = the fine-tune); got {scale}")
    return float(scale)


def write_scaled_adapter(adapter: Path, scale: float, target: Path) -> Path:
    """A copy of the LoRA adapter folder ``adapter`` with every lora_B multiplied by ``scale``."""
    from safetensors.torch import load_file, save_file

    scale = check_scale(scale)
    tensors = load_file(str(adapter / ADAPTER_WEIGHTS))
    scaled = {k: (v * scale).to(v.dtype) if ".lora_B." in k else v for k, v in tensors.items()}
    with atomic_folder(target) as tmp:
        for item in adapter.iterdir():  # config, tokenizer files, README: unchanged
            if item.is_file() and item.name != ADAPTER_WEIGHTS:
                shutil.copy2(item, tmp / item.name)
        save_file(scaled, str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt", "harness_interpolation_scale": repr(scale)})
    return target


@dataclass
class Interpolation:
    """The fine-tune at ``weights`` (an adapter folder or a model folder), as a path from ``base``.

    ``load_tuned`` loads the fine-tuned model in full (only needed for weights
    that are not a plain LoRA adapter); it is called at most once.
    """

    base: LoadedModel
    weights: Path
    is_adapter: bool
    load_tuned: Callable[[], LoadedModel]

    def __post_init__(self) -> None:
        self.weights = Path(self.weights)
        self.scalable = self.is_adapter and is_scalable_adapter(self.weights)
        self._deltas: dict[str, object] | None = None

    @property
    def form(self) -> str:
        return "adapter" if self.scalable else "model"

    def save(self, scale: float, target: Path) -> Path:
        """The weights at ``scale`` in a folder plain PEFT / transformers load; returns that folder."""
        scale = check_scale(scale)
        if self.scalable:
            return write_scaled_adapter(self.weights, scale, target)
        model = self.model_at(scale)
        with atomic_folder(target) as tmp:
            model.model.save_pretrained(tmp)
            model.tokenizer.save_pretrained(tmp)
        return target

    def model_at(self, scale: float, *, scratch: Path | None = None) -> LoadedModel:
        """The model at ``scale`` in memory (a copy; the base is left untouched).

        A plain adapter is written, scaled, to the folder ``scratch`` and merged from
        there, exactly as a user would load it.
        """
        from harness.models.adapters import merge_adapter

        scale = check_scale(scale)
        if self.scalable:
            if scratch is None:
                raise ValueError("scaling an adapter needs a scratch folder")
            merged = merge_adapter(self.base, write_scaled_adapter(self.weights, scale, scratch))
            merged.name = f"{self.base.name} + {scale:g}·Δ({self.weights.name})"
            return merged
        return self._lerp(scale)

    def _lerp(self, scale: float) -> LoadedModel:
        import torch

        deltas = self._tuned_tensors()
        model = copy.deepcopy(self.base.model)
        with torch.no_grad():
            for name, tensor in model.state_dict(keep_vars=True).items():
                tuned = deltas.get(name)
                if tuned is None:
                    continue
                if tuned.shape != tensor.shape:
                    raise UsageError(f"interpolation: {name} has shape {tuple(tuned.shape)} in the fine-tune and "
                                     f"{tuple(tensor.shape)} in the base; only same-shaped weights interpolate")
                # lerp is exact at both ends: s=0 gives the base, s=1 the fine-tune, bit for bit.
                mixed = torch.lerp(tensor.detach().float(), tuned.float(), scale)
                tensor.data.copy_(mixed.to(tensor.dtype))
        model.eval()
        return LoadedModel(model=model, tokenizer=self.base.tokenizer, name=f"{self.base.name} + {scale:g}·Δ",
                           fingerprint="", device=self.base.device, dtype=self.base.dtype)

    def _tuned_tensors(self) -> dict[str, object]:
        """The fine-tune's tensors that differ from the base's (loaded once, kept on the CPU)."""
        if self._deltas is None:
            import torch

            tuned = self.load_tuned()
            base_state = self.base.model.state_dict()
            self._deltas = {}
            for name, tensor in tuned.model.state_dict().items():
                if name not in base_state:
                    raise UsageError(f"interpolation: the fine-tune has {name!r}, which the base model lacks")
                if tensor.shape != base_state[name].shape or not torch.equal(tensor, base_state[name]):
                    self._deltas[name] = tensor.detach().to("cpu", copy=True)
            del tuned
        return self._deltas
