"""What a config asks of this machine, said before any work starts: files that are
missing, names only the Hugging Face Hub can serve, settings the hardware honours badly."""

from __future__ import annotations

from harness.config import RunConfig
from harness.errors import UsageError


def hardware_notes(config: RunConfig) -> list[str]:
    """Settings this machine cannot honour well, said before any work starts."""
    if config.bf16 is not True:
        return []
    from harness.models.loading import cpu_supports_bf16, pick_device

    try:
        device = pick_device(config.device)
    except UsageError:
        return []  # the device itself is refused elsewhere
    if device == "cpu" and not cpu_supports_bf16():
        # Measured on a 2-core AMD EPYC without AVX-512: transformers' Trainer with bf16 had not finished
        # 10 LoRA steps on SmolLM2 in 15 minutes, which fp32 trains in about 2.
        return ["bf16: true on a CPU without native bf16 (no AVX512-BF16 or AMX): every bf16 operation is emulated, "
                "several times slower than fp32; use bf16: auto (bf16 where the hardware computes it, else fp32)"]
    return []


def missing_paths(config: RunConfig) -> list[str]:
    """Local data files the config names that do not exist (hub names are skipped)."""
    from harness.data.sources import bare_hub_id

    missing = []
    for spec in config.datasets + config.mitigation.general_data:
        if "://" in spec.path or spec.path.startswith("builtin:") or bare_hub_id(spec.path, config.resolve_path(".")):
            continue
        if not config.resolve_path(spec.path).exists():
            missing.append(spec.path)
    return missing


def hub_names(config: RunConfig) -> list[str]:
    """Models and data sets the config names on the Hugging Face Hub (read at run time, so online only)."""
    from harness.data.sources import bare_hub_id, is_hub
    from harness.models.loading import resolve_model

    base = config.resolve_path(".")
    names = [spec.path for spec in config.datasets + config.mitigation.general_data
             if is_hub(spec.path) or bare_hub_id(spec.path, base)]
    try:
        model_on_hub = resolve_model(config.base_model, base).kind == "hub"
    except UsageError:
        model_on_hub = False  # a local path that does not exist: said when the run loads it
    return [config.base_model, *names] if model_on_hub else names
