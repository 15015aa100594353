"""A PEFT LoRA adapter merged into a copy of its base model's weights, for scoring at full speed."""

from __future__ import annotations

import copy
from pathlib import Path

from harness.errors import UsageError
from harness.records import LoadedModel


def merge_adapter(base: LoadedModel, adapter_dir: str | Path, *, copy_weights: bool = True) -> LoadedModel:
    """``base`` with a PEFT LoRA adapter merged into a *copy* of its weights.

    The base model in memory and the adapter folder on disk are left untouched;
    the returned model has plain weights, so it scores as fast as the base.
    ``copy_weights=False`` merges into ``base.model`` itself (for a base that was
    loaded only to be merged, saving a second copy of the weights).
    """
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise UsageError(f"adapter {adapter_dir}: no adapter_config.json there (is it a PEFT adapter folder?)")
    from peft import PeftModel

    clone = copy.deepcopy(base.model) if copy_weights else base.model
    try:
        peft_model = PeftModel.from_pretrained(clone, str(adapter_dir), is_trainable=False)
    except (ValueError, KeyError, RuntimeError) as error:
        raise UsageError(f"adapter {adapter_dir} does not fit model {base.name!r}: {error}") from None
    merged = peft_model.merge_and_unload()
    merged.eval()
    return LoadedModel(
        model=merged,
        tokenizer=base.tokenizer,
        name=f"{base.name}+{adapter_dir.name}",
        fingerprint="",  # hashed once, by the Scorer that evaluates it
        device=base.device,
        dtype=base.dtype,
    )
