"""The ``lora`` trainer: LoRA adapters on a frozen base model, saved as a standard PEFT adapter."""

from __future__ import annotations

from harness.api import Trainer, TrainingRecord, TrainRequest
from harness.hookspecs import hookimpl


class LoraTrainer(Trainer):
    """Trains low-rank adapters (``lora_r``, ``lora_alpha``, ``lora_dropout``, ``lora_target_modules``)."""

    name = "lora"
    summary = "LoRA adapters on a frozen base (the seed's default); writes a PEFT adapter folder"

    def train(self, request: TrainRequest) -> TrainingRecord:
        from harness.training import EngineOptions, attach_lora, load_for_training, run_training  # heavy: import on use
        model, tokenizer = load_for_training(request.settings, frozen=True)
        model = attach_lora(model, request.settings)
        options = EngineOptions(is_adapter=True, evaluation_callback=request.on_evaluate)
        return run_training(request, model, tokenizer, options)


@hookimpl
def harness_register_trainers(register):
    register(LoraTrainer)
