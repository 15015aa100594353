"""Attention in float32 when training under bf16 autocast on a CPU.

Autocast sends ``scaled_dot_product_attention`` to bf16, and on a CPU the bf16
flash-attention kernel is the slow one: its backward pass was a fifth of a
LoRA training step on SmolLM2-135M (29 ms per layer for 4 x 168 tokens),
where the same kernel in float32 takes well under half that. So on a CPU the
engine swaps the model's ``sdpa`` attention for :func:`float32_sdpa`, which
runs the same SDPA function outside autocast on float32 copies of the
queries, keys and values and hands its output back in their dtype. Everything
else about the attention is unchanged: the same masks (transformers' SDPA
masks), the same kernel family (memory linear in the sequence length), and
softmax and products computed in float32 rather than bf16.

GPUs keep bf16 SDPA: their flash kernels are fast in bf16.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch

FLOAT32_SDPA = "harness_float32_sdpa"


def float32_sdpa(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """transformers' SDPA attention, computed in float32 outside autocast."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    with torch.autocast(query.device.type, enabled=False):
        output, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(),
                                                 attention_mask, **kwargs)
    return output.to(query.dtype), weights


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(FLOAT32_SDPA, float32_sdpa)
    AttentionMaskInterface.register(FLOAT32_SDPA, sdpa_mask)  # the very masks SDPA gets


@contextmanager
def _swapped(model: Any, current: str, replacement: str) -> Iterator[int]:
    """While inside, every config of ``model`` that names ``current`` names ``replacement``; then back."""
    configs = {id(config): config for module in model.modules()
               if (config := getattr(module, "config", None)) is not None
               and getattr(config, "_attn_implementation", None) == current}
    if configs:
        _register()
    for config in configs.values():
        config._attn_implementation = replacement
    try:
        yield len(configs)
    finally:
        for config in configs.values():
            config._attn_implementation = current


@contextmanager
def float32_attention(model: Any, enabled: bool) -> Iterator[int]:
    """While inside, ``model``'s SDPA attention runs as :func:`float32_sdpa` (when ``enabled``).

    Yields how many configs were switched (0 when not ``enabled`` or when the
    model uses another attention). They are switched back on the way out, so a
    saved or merged model never names the private implementation.
    """
    if not enabled:
        yield 0
        return
    with _swapped(model, "sdpa", FLOAT32_SDPA) as switched:
        yield switched


@contextmanager
def model_attention(model: Any) -> Iterator[int]:
    """Inside :func:`float32_attention`, the model's own SDPA again (an evaluation scores what ships)."""
    with _swapped(model, FLOAT32_SDPA, "sdpa") as switched:
        yield switched


__all__ = ["FLOAT32_SDPA", "float32_attention", "float32_sdpa", "model_attention"]
