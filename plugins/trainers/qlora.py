"""The ``qlora`` trainer: LoRA on a 4-bit NF4 base (bitsandbytes), CUDA only."""

from __future__ import annotations

from harness import Trainer, TrainingRecord, TrainRequest, UsageError
from harness.hookspecs import hookimpl


class QloraTrainer(Trainer):
    """QLoRA: the frozen base quantised to NF4 with double quantisation, LoRA adapters in bf16/fp16 compute."""

    name = "qlora"
    summary = "LoRA on a 4-bit NF4 base via bitsandbytes (needs a CUDA GPU); writes a PEFT adapter"

    # Needing a CUDA GPU is checked when a run starts (harness.hardware), so a config
    # written for the GPU it will run on validates anywhere.

    def train(self, request: TrainRequest) -> TrainingRecord:
        from harness.training import EngineOptions, attach_lora, load_for_training, run_training  # heavy: import on use
        import torch
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        from harness.helpers import gpu_only_problems

        config = request.config
        if problems := gpu_only_problems(config, trainer=self.name):
            raise UsageError("; ".join(problems))
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() and not config.fp16 else torch.float16
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        model, tokenizer = load_for_training(config, frozen=True, quantization_config=quantization,
                                             dtype=compute, device_map={"": torch.cuda.current_device()})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
        model = attach_lora(model, config)
        options = EngineOptions(is_adapter=True, evaluation_callback=request.on_evaluate)
        return run_training(request, model, tokenizer, options)


@hookimpl
def harness_register_trainers(register):
    register(QloraTrainer)
