"""harness: evaluation-first, plugin-based fine-tuning without catastrophic forgetting.

The plugin surface is this one import: ``from harness import hookimpl, Trainer,
TrainRequest, TrainingRecord, UsageError``. Records and component bases are defined
in :mod:`harness.records` and :mod:`harness.components`; helpers a plugin may use are
in :mod:`harness.helpers` (and :mod:`harness.scoring` for scoring a loaded model).
"""

from importlib import metadata

try:
    __version__ = metadata.version("forgetting-harness")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from harness.components import (  # noqa: E402  (after __version__, which the CLI reads first)
    PLUGIN_SURFACE_VERSION,
    Benchmark,
    Component,
    ComponentOptions,
    DecisionContext,
    Formatter,
    Mixer,
    Policy,
    Reporter,
    Tracker,
    Trainer,
)
from harness.errors import FormatError, UsageError  # noqa: E402
from harness.hookspecs import hookimpl  # noqa: E402
from harness.records import (  # noqa: E402
    Action,
    BenchmarkResult,
    Comparison,
    ContaminationCheck,
    DataSource,
    EvaluationRecord,
    Example,
    Interval,
    ItemDetail,
    ItemScore,
    LoadedModel,
    Message,
    MixContext,
    MixResult,
    NextRound,
    RoundOutcome,
    RoundPlan,
    TrainingRecord,
    TrainRequest,
    Verdict,
)

__all__ = [
    "PLUGIN_SURFACE_VERSION", "Action", "Benchmark", "BenchmarkResult", "Comparison", "Component",
    "ComponentOptions", "ContaminationCheck", "DataSource", "DecisionContext", "EvaluationRecord", "Example",
    "FormatError", "Formatter", "Interval", "ItemDetail", "ItemScore", "LoadedModel", "Message", "MixContext",
    "MixResult", "Mixer", "NextRound", "Policy", "Reporter", "RoundOutcome", "RoundPlan", "Tracker", "Trainer",
    "TrainingRecord", "TrainRequest", "UsageError", "Verdict", "__version__", "hookimpl",
]
