"""Under autocast, a LoRA layer adds its adapter's output inside the matrix multiplication.

PEFT's LoRA layer computes ``base(x) + lora_B(lora_A(dropout(x))) * scaling``.
Under autocast that is two more passes over the [tokens, out] output after the
adapter's product (the multiply by ``scaling``, then the add) and one more in
the backward pass (the gradient times ``scaling``), for each of the 7 adapted
projections of every layer: elementwise work that costs a CPU about as much as
the rank-r products themselves. While :func:`summed_in_matmul` is on, each plain
LoRA layer computes the same sum as ``addmm(base(x), h * scaling, lora_B.weight.T)``
with ``h = lora_A(dropout(x))``: the scaling lands on the r columns of ``h``
(32, where the output has up to 1,536) and the add happens inside the
multiplication. Same value up to rounding: bf16 products are rounded in another
order, so it is not bit-identical with PEFT's.

Only plain LoRA layers take the path (an ``nn.Linear`` base, one active adapter,
no DoRA or other variant, no bias on ``lora_B``, not merged, adapters enabled,
no per-call arguments), and only under autocast (outside it a bf16 base's output
and fp32 adapters cannot meet in one product); everything else is PEFT's own
forward, called as it is.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch


def _plain_lora_layers(model: Any) -> list[Any]:
    from peft.tuners.lora.layer import Linear

    return [m for m in model.modules() if type(m) is Linear and isinstance(m.base_layer, torch.nn.Linear)]


def _summed_forward(layer: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    adapters = layer.active_adapters
    name = adapters[0] if len(adapters) == 1 else None
    if (args or kwargs or layer.disable_adapters or layer.merged or name not in layer.lora_A
            or name in getattr(layer, "lora_variant", {}) or layer.lora_B[name].bias is not None
            or not torch.is_autocast_enabled(x.device.type)):
        return type(layer).forward(layer, x, *args, **kwargs)
    result = layer.base_layer(x)
    h = layer.lora_A[name](layer.lora_dropout[name](x))
    summed = torch.addmm(result.reshape(-1, result.shape[-1]), (h * layer.scaling[name]).reshape(-1, h.shape[-1]),
                         layer.lora_B[name].weight.t())
    return summed.view(result.shape)


@contextmanager
def summed_in_matmul(model: Any, enabled: bool) -> Iterator[int]:
    """While inside, ``model``'s plain LoRA layers add their output inside the product; yields how many."""
    layers = _plain_lora_layers(model) if enabled else []
    for layer in layers:
        layer.forward = _summed_forward.__get__(layer)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            layer.__dict__.pop("forward", None)


__all__ = ["summed_in_matmul"]
