"""``TrainingArguments`` from a :class:`harness.config.RunConfig`, and the step plan.

The config keeps the seed's (Axolotl's) names; this is the one place they are
mapped to transformers' names, so a trainer plugin never does it itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

from harness.models.loading import pick_dtype
from harness.training.sharding import sharding_arguments
from harness.training.schedule import default_warmup_steps

# The seed's optimizer names that transformers spells differently.
OPTIMIZERS = {"adamw": "adamw_torch"}


@dataclass(frozen=True)
class StepPlan:
    """How many optimizer steps a run takes, and where warmup, evaluation and saving fall."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    eval_steps: int
    save_steps: int


def micro_batch_size(config: Any) -> int:
    # The seed writes batch_size beside micro_batch_size; micro_batch_size is per device.
    return config.micro_batch_size


def plan_steps(config: Any, n_examples: int, world_size: int = 1) -> StepPlan:
    """Optimizer steps per epoch and in total, warmup (5% default), eval and save intervals.

    ``micro_batch_size`` and ``gradient_accumulation_steps`` are per rank (as in
    Axolotl and transformers), so a step trains ``micro_batch_size ×
    gradient_accumulation_steps × world_size`` examples; with ``max_steps`` unset,
    more ranks mean fewer steps per epoch.
    """
    batches = math.ceil(n_examples / (micro_batch_size(config) * world_size))
    per_epoch = max(1, math.ceil(batches / config.gradient_accumulation_steps))
    total = config.max_steps or max(1, math.ceil(config.num_epochs * per_epoch))
    if config.eval_steps:
        eval_steps = config.eval_steps
    elif config.evals_per_epoch:
        eval_steps = max(1, per_epoch // config.evals_per_epoch)
    else:
        eval_steps = min(per_epoch, total)
    if config.save_steps:
        save_steps = config.save_steps
    elif getattr(config, "saves_per_epoch", None):
        save_steps = max(1, per_epoch // config.saves_per_epoch)
    else:
        save_steps = eval_steps
    if config.early_stopping is not None and save_steps % eval_steps:
        # Restoring the best checkpoint needs a checkpoint at every evaluation.
        save_steps = eval_steps
    warmup = config.warmup_steps
    if warmup is None and getattr(config, "warmup_ratio", None) is not None:
        warmup = int(config.warmup_ratio * total)  # Axolotl's share of the total steps
    return StepPlan(per_epoch, total, default_warmup_steps(total, warmup), eval_steps, save_steps)


def precision(config: Any, device: str) -> tuple[bool, bool]:
    """(bf16, fp16) autocast flags: bf16 'auto' means wherever the hardware computes it natively."""
    if config.fp16:
        return False, True
    if config.bf16 == "auto":
        return pick_dtype(device.split(":")[0], "auto") == "bfloat16", False
    return bool(config.bf16), False


def training_arguments(
    config: Any,
    plan: StepPlan,
    checkpoint_dir: Path,
    *,
    has_validation: bool,
    learning_rate: float | None = None,
    device: str = "cpu",
) -> TrainingArguments:
    """The transformers arguments for one run; the scheduler itself is built by the engine."""
    bf16, fp16 = precision(config, device)
    early = config.early_stopping is not None and has_validation
    report_to = list(config.report_to) or "none"
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=config.micro_batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_epochs,
        max_steps=plan.total_steps,
        learning_rate=learning_rate if learning_rate is not None else config.learning_rate,
        warmup_steps=plan.warmup_steps,
        optim=OPTIMIZERS.get(config.optimizer, config.optimizer),
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs=({"use_reentrant": False, **(config.gradient_checkpointing_kwargs or {})}
                                       if config.gradient_checkpointing else None),
        bf16=bf16,
        fp16=fp16,
        use_cpu=device.startswith("cpu"),
        # Every step is logged so the metrics file has per-step rows; the console
        # printer shows only every config.logging_steps.
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=plan.eval_steps if has_validation else None,
        save_strategy="steps",
        save_steps=plan.save_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        report_to=report_to,
        seed=config.seed,
        data_seed=config.seed,
        remove_unused_columns=False,
        # Under a launcher: every trainable weight (adapter or model) takes part in each
        # forward pass, so DDP can skip its search for unused ones each step.
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        logging_nan_inf_filter=False,
        **sharding_arguments(config, device),
    )
