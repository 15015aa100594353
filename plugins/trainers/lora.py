"""The ``lora`` trainer: LoRA adapters on a frozen base model, saved as a standard PEFT adapter."""

from __future__ import annotations

from harness import Trainer, TrainingRecord, TrainRequest
from harness.hookspecs import hookimpl


class LoraTrainer(Trainer):
    """Trains low-rank adapters (``lora_r``, ``lora_alpha``, ``lora_dropout``, ``lora_target_modules``)."""

    name = "lora"
    summary = "LoRA adapters on a frozen base (the seed's default); writes a PEFT adapter folder"

    def train(self, request: TrainRequest) -> TrainingRecord:
        from harness.training import EngineOptions, attach_lora, load_for_training, run_training  # heavy: import on use

        config = request.config
        if config.load_in_8bit:
            model, tokenizer = _load_8bit(config)
        else:
            model, tokenizer = load_for_training(config, frozen=True)
        model = attach_lora(model, config)
        options = EngineOptions(is_adapter=True, evaluation_callback=request.on_evaluate)
        return run_training(request, model, tokenizer, options)


def _load_8bit(config):
    """The frozen base in 8 bits (bitsandbytes' LLM.int8(), Axolotl's load_in_8bit), ready for adapters."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    from harness import UsageError
    from harness.training import load_for_training
    from harness.helpers import gpu_only_problems

    problems = gpu_only_problems(config)
    if problems:
        raise UsageError("; ".join(problems))
    model, tokenizer = load_for_training(config, frozen=True, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                                         device_map={"": torch.cuda.current_device()})
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing), tokenizer


@hookimpl
def harness_register_trainers(register):
    register(LoraTrainer)
