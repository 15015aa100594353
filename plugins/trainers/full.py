"""The ``full`` trainer: every parameter trained; writes a complete model folder."""

from __future__ import annotations

from harness import Trainer, TrainingRecord, TrainRequest
from harness.hookspecs import hookimpl


class FullTrainer(Trainer):
    """Full fine-tuning with fp32 master weights (bf16 autocast where supported, gradient checkpointing optional)."""

    name = "full"
    aliases = ("full_finetune",)
    summary = "full fine-tuning of all parameters; writes a standard model folder"

    def trains_adapter(self) -> bool:
        return False

    def train(self, request: TrainRequest) -> TrainingRecord:
        from harness.training import EngineOptions, load_for_training, run_training  # heavy: import on use
        model, tokenizer = load_for_training(request.config, frozen=False)
        options = EngineOptions(is_adapter=False, evaluation_callback=request.on_evaluate)
        return run_training(request, model, tokenizer, options)


@hookimpl
def harness_register_trainers(register):
    register(FullTrainer)
