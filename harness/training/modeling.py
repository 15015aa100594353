"""Loading a base model for training and putting LoRA on it.

For LoRA the frozen base weights are stored in bf16 wherever bf16 autocast is on
(they never receive updates, so nothing is lost, and every matmul reads half the
bytes), while the small adapter matrices stay fp32 so their updates are exact.
Full fine-tuning keeps fp32 master weights under autocast, or with ``master_weights:
bfloat16`` bf16 weights updated exactly (``lean_precision``).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from harness.errors import UsageError
from harness.models.loading import (TokenizerSetup, fit_embeddings, load_tokenizer, local_folder, model_class,
                            pick_device, resolve_model, unreachable_model_message)
from harness.training.arguments import precision
from harness.training.dropout import use_cheap_lora_dropout


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so adapter initialisation and data order repeat exactly."""
    from transformers import set_seed

    set_seed(seed)


def master_weights(config: Any, device: str = "cpu") -> str:
    """The dtype full fine-tuning keeps its weights in: the config's, or for ``auto`` float32
    unless the memory plan says float32 cannot fit this device and bfloat16 can."""
    chosen = getattr(config, "master_weights", "auto")
    if chosen != "auto" or not hasattr(config, "resolve_path"):
        return "float32" if chosen == "auto" else chosen
    import os

    from harness.memory.report import master_weights_for
    from harness.memory.target import device_target

    return master_weights_for(config, device_target(device, int(os.environ.get("WORLD_SIZE", "1") or 1)))


def load_for_training(config: Any, *, frozen: bool, **from_pretrained: Any) -> tuple[Any, Any]:
    """The base model and tokenizer; ``frozen`` means its weights will not be trained (LoRA).

    Extra keyword arguments go to ``from_pretrained`` (QLoRA passes its quantization config).
    """
    seed_everything(config.seed)
    source = resolve_model(config.base_model, getattr(config, "_base_dir", None))
    device = pick_device(config.device)
    bf16, fp16 = precision(config, device)
    if frozen and (bf16 or fp16):
        dtype = torch.bfloat16 if bf16 else torch.float16
    elif not frozen and master_weights(config, device) == "bfloat16":
        dtype = torch.bfloat16  # updated by Bf16AdamW or an 8-bit optimizer: see lean_precision
    else:
        dtype = torch.float32
    if config.dtype != "auto" and "quantization_config" not in from_pretrained and dtype != torch.bfloat16:
        dtype = getattr(torch, config.dtype) if frozen else torch.float32
    folder = local_folder(source)
    try:
        if getattr(config, "attn_implementation", None):
            from_pretrained.setdefault("attn_implementation", config.attn_implementation)
        model = model_class(config.model_type).from_pretrained(
            folder,
            dtype=from_pretrained.pop("dtype", dtype),
            trust_remote_code=config.trust_remote_code,
            use_safetensors=None if config.allow_pickle_weights else True,
            **from_pretrained,
        )
    except OSError as error:
        raise UsageError(unreachable_model_message(source, error)) from None
    except ImportError as error:  # e.g. attn_implementation: flash_attention_2 without its package or a GPU
        raise UsageError(f"attn_implementation {getattr(config, 'attn_implementation', None)!r} cannot load "
                         f"here: {str(error).splitlines()[0]}; use sdpa (or eager)") from None
    tokenizer = load_tokenizer(source, config.trust_remote_code, TokenizerSetup.of(config))
    # Special tokens new to the vocabulary need embedding rows (trained: see attach_lora).
    model.harness_added_tokens = fit_embeddings(model, tokenizer)
    if "quantization_config" not in from_pretrained:
        model.to(device)
    model.config.use_cache = False  # the KV cache is only for generation
    return model, tokenizer


def attach_lora(model: Any, config: Any, *, dropout: float | None = None) -> Any:
    """Wrap ``model`` with LoRA adapters from the seed's keys; unknown target modules are an error."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    linear = getattr(config, "lora_target_linear", False)
    missing = [] if linear else [m for m in config.lora_target_modules if m not in present]
    if missing:
        raise UsageError(
            f"lora_target_modules: {missing} not found in {config.base_model!r}; "
            f"its linear layers include: {', '.join(sorted(_linear_names(model)))}"
        )
    # New special tokens start with untrained embedding rows: train (and save) the
    # embeddings and output layer with the adapter, or the model could never use them.
    added = getattr(model, "harness_added_tokens", 0)
    to_save = [*(_embedding_modules(model) if added else []), *getattr(config, "lora_modules_to_save", [])]
    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout if dropout is None else dropout,
        # Axolotl's lora_target_linear: every linear layer but the output head, as PEFT's all-linear does.
        target_modules="all-linear" if linear else list(config.lora_target_modules),
        modules_to_save=list(dict.fromkeys(to_save)) or None,
        use_dora=getattr(config, "peft_use_dora", False),
        use_rslora=getattr(config, "peft_use_rslora", False),
        task_type="CAUSAL_LM",
    )
    start = getattr(config, "lora_model_dir", None)
    if start:
        # Axolotl's lora_model_dir: train on from an existing adapter (its own rank, targets and
        # alpha, as saved), instead of a fresh one.
        from peft import PeftModel

        folder = config.resolve_path(start) if hasattr(config, "resolve_path") else Path(start).expanduser()
        if not (folder / "adapter_config.json").is_file():
            raise UsageError(f"lora_model_dir: {start} holds no PEFT adapter (adapter_config.json)")
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=True, autocast_adapter_dtype=True)
    else:
        # autocast_adapter_dtype keeps the adapters in fp32 over a bf16 base.
        model = get_peft_model(model, lora_config, autocast_adapter_dtype=True)
    use_cheap_lora_dropout(model)  # on a CPU, nn.Dropout's masks cost a quarter of each step
    return model


@contextmanager
def adapter_input_casting(model: Any, enabled: bool) -> Iterator[None]:
    """Turn PEFT's cast of each adapter's input to the adapter weights' dtype on or off, then restore it.

    Over a bf16 base the adapters are fp32, so PEFT copies every adapted layer's
    input to fp32, the adapter's dropout runs in fp32, and autocast copies it
    straight back to bf16 for the adapter's matrix multiplication: two copies of
    the activations per projection, forward and backward, that change nothing
    under autocast (the multiplication runs in bf16 either way; see
    ``CheapDropout`` for why its result is bit-identical). Outside autocast the
    cast is what makes a bf16 input meet fp32 weights, so it must be on there.
    """
    layers = [module for module in model.modules() if hasattr(module, "cast_input_dtype_enabled")]
    before = [layer.cast_input_dtype_enabled for layer in layers]
    for layer in layers:
        layer.cast_input_dtype_enabled = enabled
    try:
        yield
    finally:
        for layer, value in zip(layers, before):
            layer.cast_input_dtype_enabled = value


def _embedding_modules(model: Any) -> list[str]:
    names = [model.get_input_embeddings(), model.get_output_embeddings()]
    by_module = {id(module): name.rsplit(".", 1)[-1] for name, module in model.named_modules()}
    return sorted({by_module[id(m)] for m in names if m is not None and id(m) in by_module})


def _linear_names(model: Any) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
