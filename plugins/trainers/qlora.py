"""The ``qlora`` trainer: LoRA on a 4-bit NF4 base (bitsandbytes), CUDA only."""

from __future__ import annotations

import importlib.util
from typing import Any

from harness.api import Trainer, TrainingRecord, TrainRequest, UsageError
from harness.hookspecs import hookimpl


class QloraTrainer(Trainer):
    """QLoRA: the frozen base quantised to NF4 with double quantisation, LoRA adapters in bf16/fp16 compute."""

    name = "qlora"
    summary = "LoRA on a 4-bit NF4 base via bitsandbytes (needs a CUDA GPU); writes a PEFT adapter"

    def check_environment(self, settings: Any) -> None:
        import torch

        if settings.device not in ("auto", "cuda") or not torch.cuda.is_available():
            where = f"device is {settings.device!r}" if settings.device not in ("auto", "cuda") else "no CUDA GPU is available here"
            raise UsageError(
                f"trainer qlora needs a CUDA GPU ({where}): bitsandbytes' 4-bit NF4 kernels run only on CUDA. "
                "Use `adapter: lora` (trainer lora) instead: it trains the same kind of adapter on an "
                "unquantised base, in bf16 where this CPU supports it."
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise UsageError("trainer qlora needs the bitsandbytes package: pip install 'forgetting-harness[qlora]' "
                             "(or use `adapter: lora`)")

    def train(self, request: TrainRequest) -> TrainingRecord:
        from harness.training import EngineOptions, attach_lora, load_for_training, run_training  # heavy: import on use
        import torch
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        settings = request.settings
        self.check_environment(settings)
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() and not settings.fp16 else torch.float16
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        model, tokenizer = load_for_training(settings, frozen=True, quantization_config=quantization,
                                             dtype=compute, device_map={"": torch.cuda.current_device()})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=settings.gradient_checkpointing)
        model = attach_lora(model, settings)
        options = EngineOptions(is_adapter=True, evaluation_callback=request.on_evaluate)
        return run_training(request, model, tokenizer, options)


@hookimpl
def harness_register_trainers(register):
    register(QloraTrainer)
