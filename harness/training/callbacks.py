"""Trainer callbacks: the non-finite guard, per-step metrics, the evaluation hook, progress.

They share one :class:`StepStats` with the trainer, which counts tokens and
notes non-finite losses as micro-batches run. Under a launcher every rank runs
them: the ranks agree on skipping a step and add up their tokens, and rank 0
alone writes the metrics file and runs the evaluation hook.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm
from transformers import TrainerCallback

from harness import distributed
from harness.progress import say, stage_bar
from harness.training.attention import model_attention
from harness.training.modeling import adapter_input_casting

EvaluationCallback = Callable[[Any, int], dict[str, float]]


@dataclass
class StepStats:
    """What happened in the current optimizer step and in the run so far."""

    real_tokens: int = 0
    padded_tokens: int = 0
    computed_tokens: int = 0  # token positions run through the model: padded, or packed (packing.py)
    penalty: float | None = None
    bad: bool = False
    skipped: bool = False
    consecutive_bad: int = 0
    skipped_total: int = 0
    diverged: bool = False
    run_tokens: int = 0
    last_train_losses: list[float] = field(default_factory=list)
    last_val_loss: float | None = None
    last_eval_step: int = -1

    def start_step(self) -> None:
        self.real_tokens = self.padded_tokens = self.computed_tokens = 0
        self.penalty = None
        self.bad = self.skipped = False


class NonFiniteGuard(TrainerCallback):
    """Skips an optimizer step whose loss or gradient is not finite; stops after too many in a row."""

    def __init__(self, stats: StepStats, max_bad_steps: int) -> None:
        self.stats = stats
        self.max_bad_steps = max_bad_steps

    def on_step_begin(self, args, state, control, **kwargs):
        self.stats.start_step()

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        params = [p for p in model.parameters() if p.grad is not None]
        finite = not self.stats.bad and all(bool(torch.isfinite(p.grad).all()) for p in params)
        # One rank skipping a step the others take would leave its replica behind for good.
        finite = not distributed.any_rank(not finite)
        if finite:
            self.stats.consecutive_bad = 0
            return
        # Dropping every gradient makes the optimizer leave weights and moments untouched.
        for p in params:
            p.grad = None
        self.stats.skipped = True
        self.stats.skipped_total += 1
        self.stats.consecutive_bad += 1
        if self.stats.consecutive_bad >= self.max_bad_steps:
            self.stats.diverged = True
            control.should_training_stop = True

    def on_step_end(self, args, state, control, **kwargs):
        if self.stats.skipped:
            # No checkpoint during a bad streak: the last good one stays the newest.
            control.should_save = False
        if self.stats.diverged:
            control.should_evaluate = False


class MetricsWriter(TrainerCallback):
    """Appends one JSON line per optimizer step (and per evaluation) to the run's metrics file."""

    def __init__(self, path: Path, stats: StepStats, evaluation_callback: EvaluationCallback | None = None) -> None:
        self.path = path
        self.stats = stats
        self.evaluation_callback = evaluation_callback
        self._clock = time.perf_counter()

    def _write(self, record: dict[str, Any]) -> None:
        if not distributed.is_main():
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(clean) + "\n")

    def on_train_begin(self, args, state, control, **kwargs):
        self._clock = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return  # evaluation and end-of-run summaries are written elsewhere
        now = time.perf_counter()
        seconds = max(now - self._clock, 1e-9)
        self._clock = now
        stats = self.stats
        # Every rank logs each step, so every rank joins this sum: the step's tokens on all ranks.
        stats.real_tokens, stats.padded_tokens, stats.computed_tokens = distributed.sum_over_ranks(
            [stats.real_tokens, stats.padded_tokens, stats.computed_tokens])
        self.stats.run_tokens += stats.real_tokens
        if not stats.skipped:
            task_loss = float(logs["loss"]) - (stats.penalty or 0.0)
            stats.last_train_losses = (stats.last_train_losses + [task_loss])[-10:]
        self._write({
            "type": "train",
            "step": state.global_step,
            "epoch": round(float(state.epoch or 0), 4),
            # The trainer logs the optimised loss; report the task loss and the penalty apart.
            "loss": None if stats.skipped else float(logs["loss"]) - (stats.penalty or 0.0),
            "lr": float(logs.get("learning_rate", float("nan"))),
            "grad_norm": float(logs["grad_norm"]) if logs.get("grad_norm") is not None else None,
            "tokens": stats.real_tokens,
            "tokens_per_s": round(stats.real_tokens / seconds, 2),
            "padding_ratio": round(1 - stats.real_tokens / stats.padded_tokens, 4) if stats.padded_tokens else 0.0,
            "computed_tokens": stats.computed_tokens,
            "penalty": stats.penalty,
            "skipped": stats.skipped,
            "seconds": round(seconds, 4),
        })

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        record: dict[str, Any] = {"type": "eval", "step": state.global_step}
        self.stats.last_eval_step = state.global_step
        if metrics and "eval_loss" in metrics:
            record["val_loss"] = float(metrics["eval_loss"])
            self.stats.last_val_loss = record["val_loss"]
        if self.evaluation_callback is not None and model is not None and distributed.is_main():
            was_training = model.training
            model.eval()
            # The callback scores the model outside training's autocast: adapters' inputs must be cast there,
            # and it scores the attention the model ships with, not training's float32 stand-in.
            with torch.no_grad(), adapter_input_casting(model, enabled=True), model_attention(model):
                record.update(self.evaluation_callback(model, state.global_step) or {})
            model.train(was_training)
        self._write(record)
        # Evaluation time is not training time.
        self._clock = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        self._clock = time.perf_counter()


class ProgressPrinter(TrainerCallback):
    """A progress bar, and a one-line summary every ``every`` steps (the seed's log format)."""

    def __init__(self, stats: StepStats, every: int) -> None:
        self.stats = stats
        self.every = every
        self.bar: tqdm | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = stage_bar("training", total=state.max_steps, initial=state.global_step, unit="step")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is None or not logs:
            return
        if "loss" in logs:
            self.bar.update(state.global_step - self.bar.n)
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs.get('learning_rate', 0):.2e}")
            if state.global_step % self.every == 0 or state.global_step == state.max_steps:
                say(
                    f"step {state.global_step}/{state.max_steps}  epoch {state.epoch:.2f}  "
                    f"loss {logs['loss']:.4f}  lr {logs.get('learning_rate', 0):.2e}"
                )
        elif "eval_loss" in logs:
            say(f"step {state.global_step}: validation loss {logs['eval_loss']:.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
