"""The ``external`` trainer: weights trained elsewhere (Axolotl, TRL, Unsloth...), judged like a round.

A team whose training happens in another tool still wants harness's verdict, report
and gate. With ``trainer: {name: external, weights: PATH}`` the loop trains nothing:
round 1's weights are ``PATH`` (a model folder, a hub id, a GGUF file, or a PEFT
adapter folder for the run's ``base_model``), judged against the base on the same
items as any round, and written to the same run folder, so ``harness gate``,
``harness report`` and every reporter read it unchanged. ``harness compare-models
--run-dir`` builds such a run from its flags.
"""

from __future__ import annotations

from pathlib import Path

from harness import ComponentOptions, Trainer, TrainingRecord, TrainRequest, UsageError
from harness.hookspecs import hookimpl


class ExternalOptions(ComponentOptions):
    weights: str  # a model folder, hub id or .gguf file, or a PEFT adapter folder for base_model


class ExternalWeights(Trainer):
    """Judges weights trained elsewhere; trains nothing."""

    name = "external"
    summary = "weights trained elsewhere (a model or a PEFT adapter), judged as the run's only round"
    Options = ExternalOptions

    def uses_training_data(self) -> bool:
        return False

    def trains_adapter(self) -> bool:
        return self._is_adapter()

    def _is_adapter(self) -> bool:
        return (Path(self.options.weights).expanduser() / "adapter_config.json").is_file()

    def check_environment(self, config) -> None:
        weights = Path(self.options.weights).expanduser()
        looks_local = self.options.weights.startswith((".", "/", "~")) or weights.suffix == ".gguf"
        if looks_local and not weights.exists():
            raise UsageError(f"trainer.weights: {self.options.weights} does not exist")
        if weights.is_dir() and not (weights / "adapter_config.json").is_file() and not (weights / "config.json").is_file():
            raise UsageError(f"trainer.weights: {weights} holds neither a model (config.json) nor a PEFT "
                             f"adapter (adapter_config.json)")

    def train(self, request: TrainRequest) -> TrainingRecord:
        request.output_dir.mkdir(parents=True, exist_ok=True)
        metrics = request.output_dir / "metrics.jsonl"
        metrics.touch()  # no training curve: the reports draw none
        weights = Path(self.options.weights).expanduser()
        return TrainingRecord(
            output_dir=request.output_dir,
            # A hub id stays a name: the loop loads it as it loads any model spec.
            weights_dir=weights.resolve() if weights.exists() else Path(self.options.weights),
            is_adapter=self._is_adapter(),
            metrics_file=metrics,
            steps=0,
            train_loss=None,
            val_loss=None,
            tokens=0,
            seconds=0.0,
        )


@hookimpl
def harness_register_trainers(register):
    register(ExternalWeights)
