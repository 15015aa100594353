"""bf16 master weights for full fine-tuning: 12 bytes a parameter instead of 16, without losing updates.

Full fine-tuning under autocast keeps float32 weights (4 bytes), float32 gradients (4)
and AdamW's two float32 moments (8): 16 bytes a parameter, 128 GB for an 8B model.
Keeping the weights and gradients in bf16 saves 4 of those bytes (with an 8-bit
optimizer the total falls to 6 bytes, 48 GB at 8B: one 80 GB GPU).

What must not be lost is the update itself. A bf16 weight has 8 significant bits, so
an update smaller than about 1/256 of the weight rounds away to nothing under
round-to-nearest, and fine-tuning learning rates make most updates that small: the
model would silently stop learning. Two things prevent it here:

- the optimizer's moments stay float32 (``Bf16AdamW``), so the update is computed
  exactly, from exact statistics;
- the new weight is written back with stochastic rounding: rounded up with a
  probability equal to how far it lies towards the next bf16 value. Each write is
  then unbiased, so many small updates add up to what float32 would have reached
  (Gupta et al. 2015; Zamirai et al. 2020, "Revisiting BFloat16 training").
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

# The low 16 bits of a float32 are what bf16 drops (bf16 is float32's upper half).
_DROPPED_BITS = 1 << 16
_KEPT_MASK = -_DROPPED_BITS  # 0xFFFF0000 as a signed int32


def stochastic_round_to_bf16(value: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``value`` (float32) as bf16, rounded up with probability equal to the dropped fraction.

    Adding a uniform random integer below 2**16 to the float's bit pattern carries
    into the kept bits exactly when the dropped bits plus the noise overflow, which
    happens with probability (dropped bits) / 2**16. The sign bit is untouched, so
    negative values round away from zero with the same probability, as they should.
    """
    bits = value.contiguous().view(torch.int32)
    noise = torch.randint(0, _DROPPED_BITS, bits.shape, dtype=torch.int32, device=bits.device, generator=generator)
    rounded = (bits + noise) & _KEPT_MASK
    return rounded.view(torch.float32).to(torch.bfloat16)  # exact: the dropped bits are zero


class Bf16AdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay, as torch's) over bf16 parameters, with float32 moments.

    Float32 parameters (norms kept in float32, say) are updated exactly as torch's
    AdamW would; bf16 ones are updated in float32 and written back with stochastic
    rounding. The moments are float32 either way: 8 bytes a parameter.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, seed: int = 0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.seed = seed
        self._generators: dict[torch.device, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        # One seeded stream per device, so a run repeats exactly.
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(parameter, dtype=torch.float32)
                    state["exp_avg_sq"] = torch.zeros_like(parameter, dtype=torch.float32)
                state["step"] += 1
                gradient = parameter.grad.float()
                state["exp_avg"].lerp_(gradient, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
                step_size = group["lr"] / (1 - beta1 ** state["step"])
                denominator = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2 ** state["step"])).add_(group["eps"])
                weight = parameter.float()
                weight.mul_(1 - group["lr"] * group["weight_decay"])
                weight.addcdiv_(state["exp_avg"], denominator, value=-step_size)
                if parameter.dtype == torch.bfloat16:
                    parameter.copy_(stochastic_round_to_bf16(weight, self._generator(parameter.device)))
                else:
                    parameter.copy_(weight)
        return loss

