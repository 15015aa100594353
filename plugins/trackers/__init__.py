"""Built-in experiment trackers: MLflow, TensorBoard and Weights & Biases.

Each receives a finished run from ``harness.loop.tracking.send`` (the config as
parameters, per-round benchmark numbers and training curves as metrics, the reports
as artifacts). A third-party tracker registers the same way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness import ComponentOptions, Tracker
from harness.hookspecs import hookimpl


class MlflowTracker(Tracker):
    name = "mlflow"
    summary = "MLflow: the config as params, rounds and benchmarks as metrics, the reports as artifacts"

    class Options(ComponentOptions):
        tracking_uri: str | None = None  # default: MLFLOW_TRACKING_URI, else ./mlruns
        experiment: str = "harness"

    def start(self, run_name: str, params: dict[str, Any], run_dir: Path, group: str | None = None) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.options.tracking_uri)
        found = self.client.get_experiment_by_name(self.options.experiment)
        experiment = found.experiment_id if found else self.client.create_experiment(self.options.experiment)
        tags = {"harness.run_dir": str(run_dir)} | ({"harness.group": group} if group else {})
        self.run_id = self.client.create_run(experiment, run_name=run_name, tags=tags).info.run_id
        # MLflow keeps a parameter's value to 6000 characters.
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        import time

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(_mlflow_key(k), v, now, step)
                                                    for k, v in metrics.items() if math.isfinite(v)])

    def artifacts(self, paths: list[Path]) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path))

    def finish(self, status: str) -> None:
        self.client.set_tag(self.run_id, "harness.verdict", status)
        self.client.set_terminated(self.run_id, "FINISHED")


def _mlflow_key(key: str) -> str:
    """MLflow allows letters, digits, _ - . space : / in names; ':' from lm-eval ids stays, others become _."""
    return "".join(c if c.isalnum() or c in "_-. :/" else "_" for c in key)


class TensorBoardTracker(Tracker):
    name = "tensorboard"
    summary = "TensorBoard event files: rounds and benchmarks as scalars, the verdict report as text"

    class Options(ComponentOptions):
        log_dir: str | None = None  # default: RUN_DIR/tensorboard

    def start(self, run_name: str, params: dict[str, Any], run_dir: Path, group: str | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = Path(self.options.log_dir) / run_name if self.options.log_dir else run_dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(folder))
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in params.items()))

    def log(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def artifacts(self, paths: list[Path]) -> None:
        for path in paths:
            if path.suffix == ".md":  # TensorBoard shows text, not files
                self.writer.add_text(path.name, path.read_text(encoding="utf-8"))

    def finish(self, status: str) -> None:
        self.writer.add_text("verdict", status)
        self.writer.close()


class WandbTracker(Tracker):
    name = "wandb"
    summary = "Weights & Biases: the config, rounds and benchmarks as metrics, the reports as an artifact"

    class Options(ComponentOptions):
        project: str = "harness"
        entity: str | None = None
        name: str | None = None  # the W&B run's name; default: the run folder's
        mode: str | None = None  # online, offline or disabled; default: WANDB_MODE, else W&B's own
        dir: str | None = None  # where W&B keeps its run files; default: the run folder

    def start(self, run_name: str, params: dict[str, Any], run_dir: Path, group: str | None = None) -> None:
        import wandb

        self.run = wandb.init(project=self.options.project, entity=self.options.entity, name=self.options.name or run_name, group=group,
                              config=params, mode=self.options.mode, dir=self.options.dir or str(run_dir),
                              reinit="finish_previous")
        # Rounds and training steps are logged on their own axis; W&B's _step only counts calls.
        self.run.define_metric("harness_step")
        self.run.define_metric("*", step_metric="harness_step")

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log({**metrics, "harness_step": step})

    def artifacts(self, paths: list[Path]) -> None:
        import wandb

        artifact = wandb.Artifact(f"{self.run.name}-reports", type="harness-report")
        for path in paths:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def finish(self, status: str) -> None:
        self.run.summary["verdict_status"] = status
        self.run.finish()


@hookimpl
def harness_register_trackers(register):
    register(MlflowTracker)
    register(TensorBoardTracker)
    register(WandbTracker)
