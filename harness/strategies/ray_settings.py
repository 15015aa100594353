"""The ``ray:`` settings of a compare config: where the cluster is, and what each strategy asks of it.

A compare config's top-level ``ray:`` section sets the cluster and every strategy's
defaults; a strategy's own ``ray:`` key (beside its run-config overrides) changes
what that one strategy's task requests::

    ray:
      address: auto              # a running cluster (ray start --head); none: start a local one
      max_retries: 1             # a strategy whose node or worker dies is run again elsewhere
      gather_max_mb: 100         # weights above this stay on the node (records always come back)
    strategies:
      full_ft: {trainer: full, ray: {num_gpus: 2, resources: {a100: 1}}}

The settings only matter to ``--executor ray``; unknown keys and bad values stop
the comparison before anything runs (exit 2), naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from harness.errors import UsageError
from harness.config import Strict
from harness.config_issues import ConfigIssue, issues_from_validation


class TaskResources(Strict):
    """What one strategy's Ray task requests from the cluster, and how often it may be rerun."""

    num_cpus: float = Field(1, ge=0)
    num_gpus: float | None = Field(None, ge=0)  # None: 1 if the driver's machine has CUDA, else 0
    # Custom resources, as a node declares them (``ray start --resources '{"a100": 1}'``).
    resources: dict[str, float] = Field(default_factory=dict)
    # Node labels the task must run on (``ray start --labels``; Ray >= 2.49).
    label_selector: dict[str, str] = Field(default_factory=dict)
    # Reruns after a system failure (its node or worker died); a strategy's own
    # exception is recorded in its error.json and never retried.
    max_retries: int = Field(1, ge=0)

    @field_validator("resources")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"custom resource amounts must be > 0 (got {bad})")
        return value

    def ray_options(self, default_gpus: float) -> dict[str, Any]:
        """The keyword arguments of Ray's ``.options()`` for this task."""
        options: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus if self.num_gpus is not None else default_gpus,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.label_selector:
            options["label_selector"] = dict(self.label_selector)
        return options


TASK_KEYS = tuple(TaskResources.model_fields)


class RaySettings(TaskResources):
    """The cluster, every strategy's default request, and what comes back to the driver."""

    address: str | None = None  # None: join a running ``ray.init()``, else start a local cluster
    # Where each task works on its node: ``SCRATCH/<node id>/<task folder>/`` (default: the
    # node's temp folder). The driver's compare folder is never written by a task.
    scratch: str | None = None
    # Files above this size that are not records (weights, optimizer states) stay on the
    # node, listed in node.json; JSON, YAML, Markdown, HTML, text and logs always come back.
    gather_max_mb: float = Field(100, ge=0)
    # A task that no live node can run (its node died and it asked for that node's
    # resource or label) fails after this many seconds rather than waiting for ever;
    # None waits (an autoscaling cluster may still add such a node).
    unschedulable_timeout_s: float | None = Field(300, ge=0)
    # Filled from each strategy's own ``ray:`` key, merged over the defaults above.
    strategies: dict[str, TaskResources] = Field(default_factory=dict)

    def task(self, name: str) -> TaskResources:
        """What strategy ``name``'s task requests (its own ``ray:`` key over the defaults)."""
        return self.strategies.get(name) or TaskResources(**self.model_dump(include=set(TASK_KEYS)))


def parse_ray_settings(top: Any, per_strategy: dict[str, Any], path: Path) -> RaySettings:
    """Validate the top-level ``ray:`` section and each strategy's ``ray:`` key; one exit-2 error for all."""
    issues: list[ConfigIssue] = []
    if top is None:
        top = {}
    if not isinstance(top, dict):
        raise UsageError(f"{path}: ray: must be a mapping of settings (got {top!r})")
    if "strategies" in top:
        issues.append(ConfigIssue("ray.strategies", "unknown key; give a strategy's resources as its own "
                                  "ray: key (strategies.<name>.ray)"))
        top = {k: v for k, v in top.items() if k != "strategies"}
    settings = RaySettings()
    try:
        settings = RaySettings(**top)
    except ValidationError as error:
        issues += issues_from_validation(error, RaySettings, ("ray",))
    defaults = settings.model_dump(include=set(TASK_KEYS))
    tasks: dict[str, TaskResources] = {}
    for name, own in per_strategy.items():
        if not isinstance(own, dict):
            issues.append(ConfigIssue(f"strategies.{name}.ray", "must be a mapping of task settings "
                                      f"({', '.join(TASK_KEYS)})", own, True))
            continue
        try:
            tasks[name] = TaskResources(**{**defaults, **own})
        except ValidationError as error:
            issues += issues_from_validation(error, TaskResources, ("strategies", name, "ray"))
    if issues:
        lines = "\n".join(f"  - {issue}" for issue in issues)
        raise UsageError(f"{path}: invalid ray settings ({len(issues)} problem{'s' * (len(issues) != 1)}):\n{lines}")
    settings.strategies = tasks
    return settings
