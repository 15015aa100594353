"""The shared training engine: one transformers ``Trainer`` run from a :class:`RunConfig`.

Every trainer plugin (ours and third parties') hands its prepared model here.
The engine owns the loop's cross-cutting concerns: length-grouped batches,
the seed's LR schedules, bf16 where the hardware has it, atomic checkpoints and
resume, the non-finite guard, per-step metrics and the evaluation hook.
"""

from __future__ import annotations

import inspect

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import transformers
from transformers import TrainerCallback

from harness import distributed
from harness.errors import UsageError
from harness.records import TrainingRecord, TrainRequest
from harness.training import checkpoints, cpu_sharding
from harness.training.allocator import reuse_freed_memory
from harness.models.masks import custom_mask_blocker
from harness.training.attention import FLOAT32_SDPA, float32_attention
from harness.training.arguments import plan_steps, training_arguments
from harness.training.callbacks import EvaluationCallback, MetricsWriter, NonFiniteGuard, ProgressPrinter, StepStats
from harness.training.data import LengthGroupedSampler, PaddingCollator, SeededRandomSampler, batch_token_counts
from harness.training.modeling import adapter_input_casting
from harness.training.packing import LayerCost, PackedBatch, pack_shared_prefix, trained_positions
from harness.training.prepared import eval_packing, prepared_rows
from harness.training.sample_packing import PackedRowsCollator
from harness.training.schedule import build_scheduler
from harness.training.sharded_trainer import SelfShardedTrainer, ShardSizesWriter

log = logging.getLogger(__name__)

# Attention implementations a packed row's 4D mask can be given to (packing.py).
PACKABLE_ATTENTION = {None, "eager", "sdpa", FLOAT32_SDPA}

ExtraLoss = Callable[[Any], torch.Tensor]


class TrainingStopped(UsageError):
    """Training stopped early because losses or gradients stayed non-finite."""


@dataclass
class EngineOptions:
    """How a trainer plugin wants the engine to run its model."""

    is_adapter: bool
    extra_loss: ExtraLoss | None = None  # e.g. EWC's penalty; added to every micro-batch's loss
    evaluation_callback: EvaluationCallback | None = None
    callbacks: tuple[TrainerCallback, ...] = ()
    group_by_length: bool = True


def bf16_weights_optimizer(model: Any, config: Any, args: Any) -> tuple[type, dict[str, Any]] | None:
    """AdamW with float32 moments and stochastic rounding where trained weights are bf16, else None.

    torch's AdamW would keep bf16 moments and round each update to nearest, losing
    most fine-tuning updates (lean_precision.py says why). bitsandbytes' 8-bit
    optimizers compute their update in float32 themselves and are left as they are.
    """
    trained = [p for p in model.parameters() if p.requires_grad]
    if not any(p.dtype == torch.bfloat16 for p in trained) or config.optimizer not in (
            "adamw_torch", "adamw_torch_fused", "adamw"):
        return None
    from harness.training.lean_precision import Bf16AdamW

    return Bf16AdamW, {"lr": args.learning_rate, "betas": (args.adam_beta1, args.adam_beta2),
                       "eps": args.adam_epsilon, "seed": args.seed}


class HarnessTrainer(transformers.Trainer):
    """``transformers.Trainer`` with our sampler, schedule, penalty, token counts and atomic saves."""

    def __init__(self, *args: Any, stats: StepStats, run_config: Any, extra_loss: ExtraLoss | None,
                 group_by_length: bool, total_steps: int, warmup_steps: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats
        self.run_config = run_config
        self.extra_loss = extra_loss
        self.group_by_length = group_by_length
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self._staging = False

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler:
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        kind = LengthGroupedSampler if self.group_by_length else SeededRandomSampler
        return kind(dataset.lengths, self.args.per_device_train_batch_size, seed=self.args.seed)

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            kwargs = self.run_config.lr_scheduler_kwargs
            self.lr_scheduler = build_scheduler(
                optimizer if optimizer is not None else self.optimizer,
                kind=self.run_config.lr_scheduler,
                learning_rate=self.args.learning_rate,
                total_steps=self.total_steps,
                warmup_steps=self.warmup_steps,
                min_lr=kwargs.min_lr,
                num_cycles=kwargs.num_cycles,
            )
        return self.lr_scheduler

    def _supports_logits_to_keep(self, model: Any) -> bool:
        if not hasattr(self, "_logits_to_keep_ok"):
            self._logits_to_keep_ok = "logits_to_keep" in inspect.signature(_causal_lm(self, model).forward).parameters
        return self._logits_to_keep_ok

    def _packing_cost(self, model: Any) -> LayerCost | None:
        """The model's per-layer cost when micro-batches may be packed (packing.py), else None; once per run."""
        if not hasattr(self, "_packing"):
            self._packing = None
            inner = _causal_lm(self, model)
            if self.run_config.shared_prefix_packing and not _fixed_shapes(self.run_config):
                blocker = custom_mask_blocker(inner, PACKABLE_ATTENTION)
                if blocker is None:
                    self._packing = LayerCost.of(inner.config)
                else:
                    log.info("shared_prefix_packing: micro-batches stay padded, because %s", blocker)
        return self._packing

    def _packed(self, model: Any, inputs: dict[str, Any]) -> PackedBatch | None:
        cost = self._packing_cost(model)
        if cost is None or set(inputs) != {"input_ids", "attention_mask", "labels"}:
            return None  # other inputs (e.g. token_type_ids) would need packing too
        return pack_shared_prefix(inputs["input_ids"], inputs["attention_mask"], inputs["labels"], cost)

    def _trained_positions_loss(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any) -> torch.Tensor:
        """The causal-LM loss with logits computed only where a label is trained.

        With assistant-only labels most positions (system prompt, questions,
        padding) carry no loss, yet the vocabulary projection and a float32
        cross-entropy over ~50k classes are the costliest per-token work on a
        small model. Same value as the model's own loss: summed over trained
        tokens, divided by the tokens in the whole accumulated batch. Where the
        rows share a prompt prefix, the micro-batch runs as one packed row that
        computes the prefix once (packing.py).
        """
        packed = self._packed(model, inputs)
        if packed is not None:
            # the packed row replaces the padded batch training_step counted
            self.stats.computed_tokens -= inputs["input_ids"].numel() - packed.tokens
            logits = model(input_ids=packed.input_ids, position_ids=packed.position_ids,
                           attention_mask=packed.attention_mask(_additive_mask_dtype(_causal_lm(self, model))),
                           logits_to_keep=packed.trained).logits
            selected = packed.targets
        else:
            labels = inputs["labels"]
            keep = trained_positions(labels)
            model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
            logits = model(**model_inputs, logits_to_keep=keep).logits
            selected = labels[:, 1:][keep[:, :-1]]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), selected, reduction="sum")
        if num_items_in_batch is None:
            return loss / max(selected.numel(), 1)
        loss = loss / num_items_in_batch
        if self.args.average_tokens_across_devices:
            # num_items_in_batch counts every rank's tokens and DDP averages the gradients
            # over ranks: scale back up, exactly as Trainer.compute_loss does.
            loss = loss * self.accelerator.num_processes
        return loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if (model.training and not return_outputs and "labels" in inputs and self.label_smoother is None
                and self.compute_loss_func is None and self.model_accepts_loss_kwargs
                and self._supports_logits_to_keep(model)):
            result = self._trained_positions_loss(model, inputs, num_items_in_batch)
        else:
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
        if self.extra_loss is None or not model.training:
            return result
        loss, outputs = result if return_outputs else (result, None)
        penalty = self.extra_loss(model)
        self.stats.penalty = float(penalty.detach())
        # The base loss is already normalised over the whole accumulated batch when the
        # model takes num_items_in_batch; spread the penalty over the micro-batches the same way.
        if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            penalty = penalty / self.current_gradient_accumulation_steps
        loss = loss + penalty
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        real, padded = batch_token_counts(inputs)
        inputs.pop("padded_slots", None)  # a count for the figures above, not a model input
        self.stats.real_tokens += real
        self.stats.padded_tokens += padded
        self.stats.computed_tokens += padded  # less what packing saves (compute_loss)
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not torch.isfinite(loss).all():
            self.stats.bad = True
        return loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs.pop("padded_slots", None)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def _get_output_dir(self, trial: Any) -> str:
        root = super()._get_output_dir(trial)
        return str(Path(root) / checkpoints.STAGING) if self._staging else root

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        root = Path(super()._get_output_dir(trial))
        staging_root = root / checkpoints.STAGING
        if self.args.should_save:
            shutil.rmtree(staging_root, ignore_errors=True)
        distributed.barrier()  # every rank writes its RNG state into the fresh staging folder
        self._staging = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = False
        distributed.barrier()  # ... and has written it before rank 0 renames the folder
        name = f"checkpoint-{self.state.global_step}"
        best = self.state.best_model_checkpoint
        if best and Path(best).parent == staging_root:
            # The trainer saw the best checkpoint in the staging folder; record where it will live.
            self.state.best_model_checkpoint = str(root / Path(best).name)
            if self.args.should_save:
                self.state.save_to_json(str(staging_root / name / "trainer_state.json"))
        if self.args.should_save:
            checkpoints.publish(staging_root / name, root / name)
            shutil.rmtree(staging_root, ignore_errors=True)
            transformers.trainer_utils.rotate_checkpoints(
                output_dir=str(root), save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=True,
            )
        distributed.barrier()  # no rank reads a checkpoint (the best one, at the end) before it is in place


class SelfShardedHarnessTrainer(SelfShardedTrainer, HarnessTrainer):
    """``HarnessTrainer`` over a model harness sharded itself with FSDP2 (CPU runs; sharded_trainer.py)."""


def _causal_lm(trainer: HarnessTrainer, model: Any) -> Any:
    """The transformers model under any DDP and PEFT wrapping (its config and forward signature)."""
    return _causal_lm_of(trainer.accelerator.unwrap_model(model))


def _causal_lm_of(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _fixed_shapes(config: Any) -> bool:
    """Rows packed up to sequence_len, or padded to it: the micro-batch's shape is the config's, not the data's."""
    return bool(getattr(config, "sample_packing", False) or pad_to_sequence_len(config))


def pad_to_sequence_len(config: Any) -> bool:
    """Axolotl's pad_to_sequence_len: unset, it follows sample_packing."""
    chosen = getattr(config, "pad_to_sequence_len", None)
    return bool(getattr(config, "sample_packing", False) if chosen is None else chosen)


def _collator(config: Any, pad_id: int) -> Any:
    pad_to = config.sequence_len if pad_to_sequence_len(config) else None
    if getattr(config, "sample_packing", False) or eval_packing(config):
        return PackedRowsCollator(pad_id, pad_to=pad_to)  # plain rows too: one sequence each
    return PaddingCollator(pad_id, pad_to=pad_to)


def _additive_mask_dtype(model: Any) -> torch.dtype | None:
    """Eager attention adds its mask to the scores, in their dtype; SDPA takes a boolean mask (None)."""
    if getattr(model.config, "_attn_implementation", None) not in (None, "eager"):
        return None
    device = next(model.parameters()).device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else model.dtype


def _save_final(trainer: HarnessTrainer, tokenizer: Any, target: Path) -> Path:
    """Write the final weights (adapter or full model) next to the checkpoints, atomically (rank 0)."""
    staged = target.parent / f".{target.name}.staging"
    main = trainer.args.should_save
    if main:
        shutil.rmtree(staged, ignore_errors=True)
    trainer.save_model(str(staged))  # on every rank: a sharded model gathers its weights here
    if main:
        tokenizer.save_pretrained(str(staged))
        checkpoints.publish(staged, target)
    distributed.barrier()
    return target


def _truncate_metrics(path: Path, after_step: int) -> None:
    """On resume, drop lines the interrupted run wrote after the checkpoint it resumes from."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            and json.loads(line).get("step", 0) <= after_step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _checkpoint_to_start_from(config: Any, request: TrainRequest) -> Path | None:
    """Axolotl's resume_from_checkpoint: a transformers checkpoint (an earlier harness run's, or
    another tool's) that the first round's training continues from: weights, optimizer, schedule,
    data order and step count."""
    given = getattr(config, "resume_from_checkpoint", None)
    if not given or (request.plan is not None and request.plan.index != 1):
        return None
    folder = config.resolve_path(given) if hasattr(config, "resolve_path") else Path(given)
    if not (folder / "trainer_state.json").is_file():
        raise UsageError(f"resume_from_checkpoint: {folder} is not a training checkpoint (no trainer_state.json)")
    print(f"continuing from {folder}")
    return folder


def run_training(request: TrainRequest, model: Any, tokenizer: Any, options: EngineOptions) -> TrainingRecord:
    """Train ``model`` (already adapted by the plugin) on ``request`` and write its weights."""
    config = request.config
    started = time.perf_counter()
    output_dir = Path(request.output_dir)
    ckpt_root = output_dir / "checkpoints"
    metrics_file = output_dir / "metrics.jsonl"
    if not request.train:
        raise UsageError("no training examples: the training set is empty")
    # Under a launcher every rank runs this; only rank 0 touches the folder, and the
    # others look at it once rank 0 has cleared what a crash left half-written.
    distributed.join()
    main = distributed.is_main()
    if main:
        output_dir.mkdir(parents=True, exist_ok=True)
        checkpoints.clear_incomplete(ckpt_root)
    distributed.barrier()

    resume_from = None
    if request.resume:
        resume_from = checkpoints.last_complete_checkpoint(ckpt_root)
        if resume_from is None:
            if main:
                log.warning("--resume: no complete checkpoint in %s; starting from the beginning", ckpt_root)
                metrics_file.unlink(missing_ok=True)
        elif main:
            print(f"resuming from {resume_from}")
            _truncate_metrics(metrics_file, checkpoints.checkpoint_step(resume_from))
    elif checkpoints.complete_checkpoints(ckpt_root):
        raise UsageError(f"{output_dir} already holds checkpoints of an earlier run; "
                         "resume it with --resume, or choose another output_dir")
    else:
        resume_from = _checkpoint_to_start_from(config, request)
        if main:
            metrics_file.unlink(missing_ok=True)

    train_set = prepared_rows(request.train, tokenizer, config, role="training",
                              packed=bool(getattr(config, "sample_packing", False)))
    val_set = (prepared_rows(request.validation, tokenizer, config, role="validation",
                             packed=eval_packing(config)) if request.validation else None)
    if getattr(config, "sample_packing", False) or eval_packing(config):
        # A KV cache would hide the packed examples' borders from the mask (masking_utils).
        _causal_lm_of(model).config.use_cache = False
    plan = plan_steps(config, len(train_set), distributed.world_size())
    device = str(next(model.parameters()).device)
    args = training_arguments(config, plan, ckpt_root, has_validation=val_set is not None,
                              learning_rate=request.learning_rate, device=device)
    sharded = cpu_sharding.shard_if_asked(model, config, device, evaluates=options.evaluation_callback is not None)
    if args.use_cpu:
        reuse_freed_memory()  # each step frees what the next allocates again (see allocator.py)
    if config.tf32 and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    stats = StepStats()
    callbacks: list[TrainerCallback] = [
        NonFiniteGuard(stats, config.max_bad_steps),
        MetricsWriter(metrics_file, stats, options.evaluation_callback),
        ProgressPrinter(stats, config.logging_steps),
        *options.callbacks,
    ]
    if config.early_stopping is not None and val_set is not None:
        callbacks.append(transformers.EarlyStoppingCallback(
            early_stopping_patience=config.early_stopping.patience,
            early_stopping_threshold=config.early_stopping.threshold,
        ))
    callbacks += [ShardSizesWriter(output_dir)] if sharded else []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    trainer = (SelfShardedHarnessTrainer if sharded else HarnessTrainer)(
        optimizer_cls_and_kwargs=bf16_weights_optimizer(model, config, args),
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        data_collator=_collator(config, pad_id),
        processing_class=tokenizer,
        callbacks=callbacks,
        stats=stats,
        run_config=config,
        extra_loss=options.extra_loss,
        group_by_length=options.group_by_length and getattr(config, "group_by_length", True),
        total_steps=plan.total_steps,
        warmup_steps=plan.warmup_steps,
    )
    # Our printer replaces the stock one, which would print every per-step log line.
    trainer.remove_callback(transformers.trainer_callback.ProgressCallback)
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    autocast = args.bf16 or args.fp16
    # Under autocast the adapters' inputs need no up-cast to their fp32 weights (modeling.adapter_input_casting),
    # and a CPU's attention is faster in float32 than in bf16 (attention.py).
    with (adapter_input_casting(model, enabled=not autocast),
          float32_attention(model, enabled=autocast and args.use_cpu)):
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    if stats.diverged:
        last = checkpoints.last_complete_checkpoint(ckpt_root)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been saved yet"
        raise TrainingStopped(
            f"training stopped at step {trainer.state.global_step}: {config.max_bad_steps} optimizer steps "
            f"in a row had a non-finite loss or gradient (max_bad_steps={config.max_bad_steps}); {kept}. "
            "Try a lower learning_rate, a smaller max_grad_norm, or bf16 instead of fp16."
        )

    val_loss = stats.last_val_loss
    if val_set is not None and (stats.last_eval_step != trainer.state.global_step or args.load_best_model_at_end):
        val_loss = float(trainer.evaluate()["eval_loss"])
    weights_dir = _save_final(trainer, tokenizer, output_dir / ("adapter" if options.is_adapter else "model"))
    losses = stats.last_train_losses
    return TrainingRecord(
        output_dir=output_dir,
        weights_dir=weights_dir,
        is_adapter=options.is_adapter,
        metrics_file=metrics_file,
        steps=trainer.state.global_step,
        train_loss=sum(losses) / len(losses) if losses else None,
        val_loss=val_loss,
        tokens=stats.run_tokens,
        seconds=time.perf_counter() - started,
    )


def describe_plan(config: Any, n_examples: int) -> str:
    """One line on how many steps a run of ``n_examples`` takes (for commands)."""
    ranks = distributed.world_size()
    plan = plan_steps(config, n_examples, ranks)
    per_step = config.micro_batch_size * config.gradient_accumulation_steps * ranks
    spread = f" over {ranks} ranks" if ranks > 1 else ""
    return (f"{n_examples} examples, {per_step} per step{spread}, {plan.steps_per_epoch} steps/epoch, "
            f"{plan.total_steps} steps, warmup {plan.warmup_steps}")


__all__ = ["EngineOptions", "HarnessTrainer", "TrainingStopped", "run_training", "describe_plan"]
