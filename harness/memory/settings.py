"""A run config's memory-relevant keys as :class:`PlanSettings` for a given target.

The choices mirror the engine's: ``bf16: auto`` is bf16 on a GPU (every card the
seed names computes it) and on a CPU only where this CPU does natively; LoRA's
frozen base takes the autocast dtype unless ``dtype`` says otherwise; QLoRA's is
NF4 and ``load_in_8bit``'s int8.
"""

from __future__ import annotations

from typing import Any

from harness.memory.plan import PlanSettings, Target

FULL = ("full", "full_finetune")
ADAPTERS = ("lora", "qlora")
DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def compute_dtype(config: Any, target: Target) -> str:
    if config.fp16:
        return "fp16"
    if config.bf16 == "auto":
        if target.kind == "cuda":
            return "bf16"
        from harness.models.loading import cpu_supports_bf16

        return "bf16" if cpu_supports_bf16() else "fp32"
    return "bf16" if config.bf16 else "fp32"


def plan_settings(config: Any, target: Target) -> PlanSettings | str:
    """The plan's settings for ``config``, or why this trainer cannot be planned."""
    trainer = config.trainer.name if config.trainer is not None else "full"
    options = config.trainer.options if config.trainer is not None else {}
    ewc = trainer == "ewc"
    if ewc:
        method = "full" if options.get("base") == "full" else "lora"
    elif trainer in FULL:
        method = "full"
    elif trainer in ADAPTERS:
        method = "lora"
    else:
        return f"trainer {trainer!r} is not one the plan models (full, lora, qlora, ewc)"
    compute = compute_dtype(config, target)
    if trainer == "qlora" or config.load_in_4bit:
        base = "nf4"
    elif config.load_in_8bit and method == "lora":
        base = "int8"
    elif config.dtype != "auto":
        base = DTYPES[config.dtype]
    else:
        base = compute
    label = trainer + (f" ({method} base)" if ewc else "")
    if config.fsdp or config.deepspeed:
        label += ", sharded (fsdp)" if config.fsdp else ", sharded (deepspeed, planned as ZeRO-3)"
    # master_weights (training/lean_precision.py): auto is planned as float32 here; report.py
    # turns it to bfloat16 where float32 would not fit and bfloat16 does, as the engine does.
    bf16_master = getattr(config, "master_weights", "float32") == "bfloat16" and method == "full"
    master = "bf16" if bf16_master else "fp32"
    return PlanSettings(
        method=method, master_weights=master,
        bf16_master_available=hasattr(config, "master_weights"),
        master_auto=getattr(config, "master_weights", "auto") == "auto" and method == "full" and compute == "bf16"
        and config.optimizer not in ("sgd", "adafactor"),
        base_format="fp32" if method == "full" else base, compute=compute,
        optimizer=config.optimizer, lora_r=config.lora_r,
        lora_targets=("all-linear",) if config.lora_target_linear else tuple(config.lora_target_modules),
        lora_dropout=config.lora_dropout > 0, dora=config.peft_use_dora,
        modules_to_save=tuple(config.lora_modules_to_save), ewc=ewc,
        gradient_checkpointing=config.gradient_checkpointing, micro_batch_size=config.micro_batch_size,
        sequence_len=config.sequence_len, sharded=bool(config.fsdp or config.deepspeed),
        eager_attention=config.attn_implementation == "eager", label=label,
    )
