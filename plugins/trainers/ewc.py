"""The ``ewc`` trainer: LoRA or full fine-tuning plus Elastic Weight Consolidation.

The penalty is λ·Σ Fᵢ(θᵢ − θᵢ*)², with F the diagonal Fisher of the base
weights on general data. For LoRA the "change" of an adapted base weight W is
the adapter's ΔW = B·A·scale, so the penalty is λ·Σ F_W ⊙ ΔW² over the adapted
weights: it pulls the effective weights, not the adapter matrices, towards the
base. It is exactly 0 at the start (B starts at zero) and grows as weights move.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness import ComponentOptions, Trainer, TrainingRecord, TrainRequest
from harness.hookspecs import hookimpl


class EwcOptions(ComponentOptions):
    ewc_lambda: float = Field(1.0, ge=0, description="penalty strength λ")
    fisher_samples: int = Field(64, ge=1, description="general examples used for the Fisher estimate")
    base: Literal["lora", "full"] = "lora"
    normalize_fisher: bool = Field(True, description="divide F by its mean so λ is scale-free")


class EwcTrainer(Trainer):
    """LoRA (default) or full fine-tuning with an EWC penalty from general data's Fisher."""

    name = "ewc"
    summary = "LoRA or full fine-tuning plus an Elastic Weight Consolidation penalty (needs general data)"
    Options = EwcOptions

    def trains_adapter(self) -> bool:
        return self.options.base == "lora"

    def train(self, request: TrainRequest) -> TrainingRecord:
        # The engine imports torch and transformers: only when training, not when a
        # command merely lists plugins or validates a config.
        from harness.training import (EngineOptions, FullDriftPenalty, LoraDriftPenalty, adapted_weight_names,
                                      attach_lora, cached_fisher, load_for_training, run_training)

        options: EwcOptions = self.options  # type: ignore[assignment]
        config = request.config
        lora = options.base == "lora"
        model, tokenizer = load_for_training(config, frozen=lora)
        if lora:
            names = adapted_weight_names(model, list(config.lora_target_modules))
        else:
            names = [n for n, p in model.named_parameters() if p.requires_grad]
        fisher = cached_fisher(model, tokenizer, request.general[: options.fisher_samples], names,
                               max_length=config.sequence_len, train_on=config.train_on,
                               normalize=options.normalize_fisher)
        if lora:
            model = attach_lora(model, config)
            penalty: Any = LoraDriftPenalty(model, fisher, options.ewc_lambda)
        else:
            penalty = FullDriftPenalty(model, fisher, options.ewc_lambda)
        options = EngineOptions(is_adapter=lora, evaluation_callback=request.on_evaluate, extra_loss=penalty)
        return run_training(request, model, tokenizer, options)


@hookimpl
def harness_register_trainers(register):
    register(EwcTrainer)
