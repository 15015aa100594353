"""The base classes of the six component kinds a plugin registers.

A plugin subclasses one of them (a formatter, mixer, trainer, benchmark, retrain
policy, reporter or tracker), names it, gives it typed ``Options``, and registers the
class from a hook (``harness.hookspecs``). A method here that only raises
``NotImplementedError`` is part of the surface a plugin must implement;
``harness.conformance`` refuses, when the plugin loads, a class that does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Sequence

from pydantic import BaseModel, ConfigDict

from harness.records import (
    BenchmarkResult,
    DataSource,
    EvaluationRecord,
    Example,
    ItemDetail,
    LoadedModel,
    MixContext,
    MixResult,
    NextRound,
    RoundOutcome,
    TrainingRecord,
    TrainRequest,
)

if TYPE_CHECKING:  # annotations only
    from harness.config import RunConfig

# The surface's version: raised when a base class gains a method a plugin must implement
# or a hook changes its arguments. A plugin written to an earlier version is refused when
# it loads (harness.conformance), with what it lacks. 2: benchmarks list item_ids() and
# score the items they are given (evaluate(model, *, items, batch_size)).
PLUGIN_SURFACE_VERSION = 2


class ComponentOptions(BaseModel):
    """Base for a component's own options: typed, and unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class Component:
    """What every registrable component has: a name, a one-line summary, typed options."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    Options: ClassVar[type[ComponentOptions]] = ComponentOptions

    def __init__(self, options: ComponentOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()


class Formatter(Component):
    """Reads records of one data format into :class:`Example` and writes them back."""

    kind = "formatter"

    def detect(self, record: dict[str, Any]) -> bool:
        """True when ``record`` looks like this format (used for auto-detection)."""
        raise NotImplementedError

    def parse(self, record: dict[str, Any]) -> Example:
        """Read one record; raise :class:`FormatError` with the reason if malformed."""
        raise NotImplementedError

    def dump(self, example: Example) -> dict[str, Any]:
        """Write one example; raise :class:`FormatError` if this format cannot hold it."""
        raise NotImplementedError


class Mixer(Component):
    """Blends domain data with general data to mitigate forgetting."""

    kind = "mixer"

    def mix(self, domain: DataSource, general: list[DataSource], context: MixContext) -> MixResult:
        raise NotImplementedError

    def reads_rehearses(self) -> bool:
        """True when this mixer, as configured, acts on the general sources' ``rehearses``
        (config validation refuses ``rehearses`` that nothing would read)."""
        return False


class Trainer(Component):
    """Trains a model on examples and writes an adapter or a full model."""

    kind = "trainer"

    def check_environment(self, config: RunConfig) -> None:
        """Raise :class:`UsageError` before any model loads if this trainer cannot run here."""

    def trains_adapter(self) -> bool:
        """True when this trainer trains a LoRA adapter over frozen weights (``lr-find`` asks)."""
        return True

    def uses_training_data(self) -> bool:
        """False when the weights come from elsewhere (a model trained in another tool): the loop
        then reads no training data, mixes nothing and judges one round, since retraining with
        more general data is not something it can do to those weights."""
        return True

    def train(self, request: TrainRequest) -> TrainingRecord:
        raise NotImplementedError


class Benchmark(Component):
    """Scores a model on items; ``role`` says whether it measures forgetting or gain.

    The core chooses which items to score (one fixed seeded order per benchmark,
    the same for every model) and caches each item's outcome per set of weights,
    so a plugin only lists its items and scores the ones it is asked for.
    """

    kind = "benchmark"
    role: ClassVar[Literal["general", "domain"]] = "general"
    # Declared once here and read only from here: a loss is lower-is-better.
    higher_is_better: ClassVar[bool] = True
    # What guessing scores on every item, when it is the same for all (else per item,
    # in ItemScore.chance; None when unknown).
    chance: ClassVar[float | None] = None

    def __init__(self, options: ComponentOptions | None = None) -> None:
        super().__init__(options)
        # The instance's name keys every result, comparison and cache entry, so a generic
        # benchmark configured twice (two lm-eval tasks) must get two names.
        self.name = self.identity(self.options)

    @classmethod
    def identity(cls, options: ComponentOptions) -> str:
        """The name results are filed under for these options (the registered name, unless a
        generic benchmark's options say what it measures)."""
        return cls.name

    def definition_fingerprint(self) -> str:
        """Identifies what is measured (task definition, scoring); part of the cache key."""
        raise NotImplementedError

    def configuration_problems(self) -> list[str]:
        """What is wrong with this benchmark as configured, found without a model or its data.

        ``harness validate`` and every command that scores call it before any model
        loads, so a metric the task does not produce fails in a second, not after an
        hour of generation. Empty when nothing is wrong (the default).
        """
        return []

    def item_ids(self) -> list[str]:
        """Every item this benchmark can score (stable, unique ids; any order)."""
        raise NotImplementedError

    def evaluate(self, model: LoadedModel, *, items: Sequence[str], batch_size: int) -> BenchmarkResult:
        """Score exactly ``items`` (ids from :meth:`item_ids`) on ``model``."""
        raise NotImplementedError

    def item_details(self, items: Sequence[str]) -> dict[str, ItemDetail]:
        """Text, group and answer of ``items`` where known (optional: ``{}`` means none).

        Reports show flipped items and per-group forgetting from it; mixers keep
        every evaluated item's text out of training data with it.
        """
        return {}


@dataclass
class DecisionContext:
    """What ``harness_next_round`` decides on: the run's config, its rounds so far, its policy."""

    config: RunConfig
    history: list[RoundOutcome]
    policy: Policy  # the configured policy, already built with its options
    # Judges the last round's weights moved toward the base by a scale s in (0, 1]:
    # same items and cached base, under the run's verdict policy. None when the last
    # round cannot be interpolated (it was itself an interpolation).
    scale_probe: Callable[[float], EvaluationRecord] | None = None

    @property
    def settings(self) -> RunConfig:
        """The earlier name of :attr:`config`, kept for policies written to it."""
        return self.config

    @property
    def threshold(self) -> float:
        return self.config.forgetting.threshold

    @property
    def trained_rounds(self) -> int:
        """Rounds that trained (interpolation rounds do not count against ``max_rounds``)."""
        return sum(1 for outcome in self.history if outcome.plan.trained)


class Policy(Component):
    """A retrain policy: chooses the next round's settings from the rounds so far.

    A policy may hand over to another: when its options have ``then`` (a policy
    name) and ``then_options``, the core builds that policy before anything loads
    (an unknown name is a config error) and sets it as ``self.then``.
    """

    kind = "policy"
    then: Policy | None = None

    def decide(self, context: DecisionContext) -> NextRound:
        raise NotImplementedError


class Reporter(Component):
    """Renders saved results into a report format.

    ``scope = "run"``: ``render(run_dir, results)`` for one run folder (results from
    ``harness.loop.reporting.collect``). ``scope = "comparison"``: ``render(compare_dir,
    summary)`` for a strategy comparison (compare.json's dict).
    """

    kind = "reporter"
    scope: ClassVar[Literal["run", "comparison"]] = "run"

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        raise NotImplementedError


class Tracker(Component):
    """Sends a finished run's results to an experiment tracker (MLflow, TensorBoard, ...).

    Called after the run's reports are written (``harness.loop.tracking``), once per
    run: ``start`` with the run's name and flattened config, ``log`` for each step's
    metrics (a round's per-benchmark numbers, a training curve), ``artifacts`` with
    the report files, ``finish`` with the verdict's status. An exception from any of
    them is a warning that stops this tracker only; the run and its verdict stand.
    """

    kind = "tracker"

    def start(self, run_name: str, params: dict[str, Any], run_dir: Path, group: str | None = None) -> None:
        raise NotImplementedError

    def log(self, metrics: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def artifacts(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def finish(self, status: str) -> None:
        raise NotImplementedError
