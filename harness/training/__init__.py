"""The shared training engine that every trainer plugin (built-in or third-party) uses.

A trainer plugin loads and prepares its model (``load_for_training``,
``attach_lora``), then calls :func:`run_training` with :class:`EngineOptions`
(whether it trains an adapter, an optional extra loss such as EWC's penalty, an
optional evaluation callback). The engine maps the run config to transformers'
``Trainer``, and owns batching, schedules, precision, checkpoints, resume, the
non-finite guard and the metrics file.
"""

from harness.training.arguments import StepPlan, plan_steps, precision, training_arguments
from harness.training.callbacks import EvaluationCallback, StepStats
from harness.training.checkpoints import last_complete_checkpoint
from harness.training.data import LengthGroupedSampler, PaddingCollator, TokenizedDataset, tokenize_examples
from harness.training.engine import EngineOptions, HarnessTrainer, TrainingStopped, describe_plan, run_training
from harness.training.ewc import FullDriftPenalty, LoraDriftPenalty, adapted_weight_names
from harness.training.fisher import cached_fisher
from harness.training.modeling import attach_lora, load_for_training, seed_everything
from harness.training.schedule import LrMultiplier, build_scheduler, default_warmup_steps

__all__ = [
    "EngineOptions",
    "FullDriftPenalty",
    "LoraDriftPenalty",
    "adapted_weight_names",
    "cached_fisher",
    "EvaluationCallback",
    "HarnessTrainer",
    "LengthGroupedSampler",
    "LrMultiplier",
    "PaddingCollator",
    "StepPlan",
    "StepStats",
    "TokenizedDataset",
    "TrainingStopped",
    "attach_lora",
    "build_scheduler",
    "default_warmup_steps",
    "describe_plan",
    "last_complete_checkpoint",
    "load_for_training",
    "plan_steps",
    "precision",
    "run_training",
    "seed_everything",
    "tokenize_examples",
    "training_arguments",
]
