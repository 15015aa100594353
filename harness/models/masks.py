"""Whether a model's attention honours an arbitrary 4D mask.

Shared-prefix scoring (``harness.evaluation.prefix``) and shared-prefix training
(``harness.training.packing``) both hand the model an explicit mask over its
keys, so every layer must use plain global causal attention, through an
implementation that applies such a mask as given (flash-attention kernels take
padding in other forms; a sliding window would be dropped from a custom mask).
"""

from __future__ import annotations

from typing import Any, Collection


def custom_mask_blocker(model: Any, implementations: Collection[str | None]) -> str | None:
    """Why ``model`` cannot take a custom 4D mask (None when it can).

    ``implementations``: the attention implementations the caller knows how to
    build a mask for.
    """
    config = getattr(model, "config", None)
    if config is None:
        return "it has no transformers config"
    if getattr(config, "is_encoder_decoder", False):
        return "it is an encoder-decoder model"
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    if layer_types and any(kind != "full_attention" for kind in layer_types):
        return f"it has non-global attention layers ({', '.join(sorted(set(layer_types)))})"
    if getattr(text, "sliding_window", None) is not None and getattr(text, "use_sliding_window", True):
        return "it uses sliding-window attention"
    attention = getattr(config, "_attn_implementation", None)
    if attention not in implementations:
        names = " or ".join(sorted(str(name) for name in implementations if name))
        return f"its attention implementation {attention!r} is not {names}"
    return None


__all__ = ["custom_mask_blocker"]
