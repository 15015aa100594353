"""EWC penalties for the training engine: λ·Σ F (θ − θ*)², for LoRA (on ΔW = B·A·scale) or all weights.

Public so a third-party trainer can reuse them; the ``ewc`` trainer plugin wires them up.
"""

from __future__ import annotations

from typing import Any

import torch


class LoraDriftPenalty:
    """λ·Σ F_W ⊙ (B·A·scale)² over every LoRA-adapted weight."""

    def __init__(self, model: Any, fisher: dict[str, torch.Tensor], strength: float) -> None:
        self.strength = strength
        self.terms = []
        for name, module in model.named_modules():
            if not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
                continue
            base_name = name.removeprefix("base_model.model.") + ".weight"
            self.terms.append((module, fisher[base_name]))
        if not self.terms:
            raise ValueError("the model has no LoRA layers for the EWC penalty")

    def __call__(self, model: Any) -> torch.Tensor:
        total = torch.zeros((), device=self.terms[0][1].device)
        for module, weight_fisher in self.terms:
            a = module.lora_A["default"].weight.float()
            b = module.lora_B["default"].weight.float()
            delta = (b @ a) * module.scaling["default"]
            total = total + (weight_fisher * delta.pow(2)).sum()
        return self.strength * total


class FullDriftPenalty:
    """λ·Σ F (θ − θ*)² over every trained parameter, θ* being the base weights."""

    def __init__(self, model: Any, fisher: dict[str, torch.Tensor], strength: float) -> None:
        self.strength = strength
        params = dict(model.named_parameters())
        self.terms = [(params[n], params[n].detach().clone(), f) for n, f in fisher.items()]

    def __call__(self, model: Any) -> torch.Tensor:
        total = torch.zeros((), device=self.terms[0][2].device)
        for param, anchor, weight_fisher in self.terms:
            total = total + (weight_fisher * (param.float() - anchor.float()).pow(2)).sum()
        return self.strength * total


def adapted_weight_names(model: Any, target_modules: list[str]) -> list[str]:
    """Names of the base weights LoRA will adapt (``...q_proj.weight`` etc.)."""
    return [f"{name}.weight" for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in target_modules]
