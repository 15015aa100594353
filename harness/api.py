"""The public API: everything a plugin may import from the harness.

Base classes for the six component kinds, the narrow, typed records that travel
through hooks, and the helpers plugins share with the core (listed in
``HELPERS``: item sampling, encoding with the chat template, generation, atomic
writes, fingerprints, statistics formatting). Built-in plugins import only this
module, ``harness.hookspecs`` (``hookimpl``), ``harness.training`` (the training
engine's entry points) and ``harness.testing``; a test fails if one reaches
further. If a built-in needs something that is not here, the API is incomplete
and should be widened, not bypassed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Sequence

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # for annotations only: importing these here would pull in torch and a cycle
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from harness.config import RunConfig
    from harness.data.decontamination import EvaluatedTexts
    from harness.evaluation.stats import Comparison


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


# --------------------------------------------------------------------- data records


@dataclass(frozen=True)
class Message:
    """One turn of a conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Example:
    """One training example: a conversation, or plain completion text.

    ``origin`` is ``"file:line"`` so every later error can point at the source.
    ``trained_spans`` (plain text only): the character spans the loss covers, the
    text taken exactly as written (Axolotl's template-free ``input_output``);
    ``None`` trains on all of the text, with the tokenizer's end-of-sequence token.
    """

    messages: tuple[Message, ...] = ()
    text: str | None = None
    origin: str = ""
    trained_spans: tuple[tuple[int, int], ...] | None = None

    @property
    def is_chat(self) -> bool:
        return self.text is None


class FormatError(ValueError):
    """A record that a formatter cannot read or write; the message says why."""


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


@dataclass
class DataSource:
    """A named set of examples with its mixing weight and sample cap.

    ``rehearses`` names what a general source trains back: general benchmarks
    (``offline_arc_easy``) or a benchmark's group (``offline_mmlu/anatomy``), so a
    mixer can weight it by how much of that the last round forgot.
    """

    name: str
    examples: list[Example]
    weight: float = 1.0
    max_samples: int | None = None
    sha256: str = ""
    rehearses: tuple[str, ...] = ()


@dataclass
class MixContext:
    """What a mixer gets besides the data: the share to reach, the seed, helpers, and
    what the run measured.

    ``forgetting`` is the previous round's relative forgetting in percent per general
    benchmark name and per ``benchmark/group`` where the benchmark has groups (empty
    in round 1); ``threshold`` is the run's forgetting threshold in the same unit.
    ``evaluated`` holds the texts of every item the run may evaluate: no training
    example may contain one (see ``harness.data.decontamination``).
    """

    general_share: float
    seed: int
    cache_dir: Path
    # Loads the base model lazily: only mixers that generate text pay for it.
    load_base_model: Callable[[], LoadedModel] | None = None
    forgetting: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None
    evaluated: EvaluatedTexts | None = None


@dataclass
class MixResult:
    """The blended training examples and a manifest of what went in."""

    examples: list[Example]
    manifest: dict[str, Any]


class Mixer(Component):
    """Blends domain data with general data to mitigate forgetting."""

    kind = "mixer"

    def mix(self, domain: DataSource, general: list[DataSource], context: MixContext) -> MixResult:
        raise NotImplementedError

    def reads_rehearses(self) -> bool:
        """True when this mixer, as configured, acts on the general sources' ``rehearses``
        (config validation refuses ``rehearses`` that nothing would read)."""
        return False


# ------------------------------------------------------------------- model records


@dataclass
class LoadedModel:
    """A model in memory with its tokenizer and a fingerprint of its weights."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    fingerprint: str
    device: str
    dtype: str


# ----------------------------------------------------------------------- training


@dataclass
class TrainRequest:
    """Everything a trainer needs for one training run."""

    settings: RunConfig  # the validated run config
    train: list[Example]
    validation: list[Example]
    output_dir: Path
    general: list[Example] = field(default_factory=list)  # e.g. for EWC's Fisher estimate
    resume: bool = False
    learning_rate: float | None = None  # a round's override of settings.learning_rate
    plan: RoundPlan | None = None  # the loop's round this training belongs to, if any
    # Called by the engine at each evaluation step with (model, step); returns extra
    # metrics to log (the loop's early-warning forgetting signal).
    on_evaluate: Callable[[PreTrainedModel, int], dict[str, float]] | None = None


@dataclass
class TrainingRecord:
    """What a finished training run left on disk, and a few headline numbers."""

    output_dir: Path
    weights_dir: Path  # a PEFT adapter folder, or a full model folder
    is_adapter: bool
    metrics_file: Path
    steps: int
    train_loss: float | None
    val_loss: float | None
    tokens: int
    seconds: float


class Trainer(Component):
    """Trains a model on examples and writes an adapter or a full model."""

    kind = "trainer"

    def check_environment(self, settings: RunConfig) -> None:
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


# --------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ItemScore:
    """One benchmark item's outcome (1.0 correct, 0.0 wrong, or a graded value).

    ``chance`` is what guessing scores on this item (1 / number of choices), when
    the benchmark knows it; chance-aware gating reads it. ``margin``: how far the
    right answer's score is above the best wrong one's (a multiple-choice item's
    log-likelihoods, as its metric compares them; negative when the item is wrong),
    when the benchmark knows it; base-assisted sampling reads it (an item answered by
    a wide margin rarely flips).
    """

    item_id: str
    score: float
    chance: float | None = None
    margin: float | None = None


@dataclass(frozen=True)
class ItemDetail:
    """What a person (or a decontamination check) needs to know about one item.

    ``text`` is the question as the model sees it (without the answer);
    ``group`` the category the item belongs to (an MMLU subject, a leaf task of
    an lm-eval group, a domain topic), when the benchmark has one.
    """

    text: str | None = None
    group: str | None = None
    answer: str | None = None


@dataclass
class BenchmarkResult:
    """A benchmark's per-item scores on one model."""

    benchmark: str
    metric: str
    items: list[ItemScore]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def score(self) -> float:
        return sum(i.score for i in self.items) / len(self.items) if self.items else float("nan")


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


# ------------------------------------------------------------------ the loop's records


@dataclass
class RoundPlan:
    """The settings one round trains with, or, with ``scale``, the earlier round it interpolates.

    An interpolation round trains nothing: its weights are round ``source_round``'s
    moved toward the base, θ_base + scale·(θ_round − θ_base).
    """

    index: int
    general_share: float
    learning_rate: float
    run_dir: Path
    reason: str = ""
    scale: float | None = None
    source_round: int | None = None

    @property
    def trained(self) -> bool:
        return self.scale is None


@dataclass
class EvaluationRecord:
    """A round's results: each benchmark on base and candidate, and the forgetting verdict."""

    base: dict[str, BenchmarkResult]
    candidate: dict[str, BenchmarkResult]
    forgetting: dict[str, Comparison]  # general benchmarks, each with its status
    gain: dict[str, Comparison]  # domain benchmarks
    passed: bool
    policy: str = "sequential"
    threshold: float = 5.0
    status: str = ""  # "pass", "fail" or "undecided" (an undecided round has not passed)
    reasons: list[str] = field(default_factory=list)  # why not passed, one line per benchmark
    method: str = ""  # how the verdict was decided, for reports

    def decisive_forgetting(self, benchmark: str) -> float:
        """The forgetting a policy fits or compares: the upper CI bound under ``strict``, else the estimate."""
        c = self.forgetting[benchmark]
        return c.relative_ci.high if self.policy == "strict" else c.relative

    def informative(self) -> list[str]:
        """The general benchmarks the verdict rests on (not at chance for this model)."""
        return [b for b, c in self.forgetting.items() if getattr(c, "status", "") != "uninformative"]

    def domain_gain(self) -> float:
        """Mean relative domain gain in percent, direction-aware (a loss that fell is a gain); NaN without domain benchmarks."""
        gains = [-c.relative for c in self.gain.values()]
        return sum(gains) / len(gains) if gains else float("nan")

    def domain_score(self) -> float:
        """Mean fine-tuned score over the domain benchmarks; NaN without any."""
        scores = [c.candidate for c in self.gain.values()]
        return sum(scores) / len(scores) if scores else float("nan")

    def worst_forgetting(self) -> float:
        """The largest decisive forgetting across informative general benchmarks."""
        return max((self.decisive_forgetting(b) for b in self.informative()), default=0.0)


@dataclass
class RoundOutcome:
    """One finished round, as the decision sees it."""

    plan: RoundPlan
    evaluation: EvaluationRecord


@dataclass
class DecisionContext:
    """What ``harness_next_round`` decides on: the run's settings, its rounds so far, its policy."""

    settings: RunConfig
    history: list[RoundOutcome]
    policy: Policy  # the configured policy, already built with its options
    # Judges the last round's weights moved toward the base by a scale s in (0, 1]:
    # same items and cached base, under the run's verdict policy. None when the last
    # round cannot be interpolated (it was itself an interpolation).
    scale_probe: Callable[[float], EvaluationRecord] | None = None

    @property
    def threshold(self) -> float:
        return self.settings.forgetting.threshold

    @property
    def trained_rounds(self) -> int:
        """Rounds that trained (interpolation rounds do not count against ``max_rounds``)."""
        return sum(1 for outcome in self.history if outcome.plan.trained)


class Action(enum.Enum):
    RETRAIN = "retrain"
    INTERPOLATE = "interpolate"  # the next round: the last trained weights at ``scale`` toward the base
    STOP = "stop"


@dataclass
class NextRound:
    """A decision: stop, retrain with this share and learning rate, or interpolate at ``scale``."""

    action: Action
    reason: str
    general_share: float | None = None
    learning_rate: float | None = None
    scale: float | None = None


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


class UsageError(Exception):
    """A problem the user can fix (bad config, missing asset): printed without a traceback."""

    exit_code = 2


# ------------------------------------------------------------------ shared helpers

# Helpers a plugin uses, by name -> the module that implements them. They are
# imported on first use, so ``import harness.api`` stays light (no torch).
HELPERS: dict[str, str] = {
    # items and scoring
    "take_items": "harness.evaluation.scoring",
    "sample_item_ids": "harness.evaluation.scoring",
    "score_continuations": "harness.evaluation.prefix",
    "PrefixLM": "harness.evaluation.prefix",
    # text and tokens
    "encode": "harness.data.tokenize",
    "token_length": "harness.data.tokenize",
    "IGNORE_INDEX": "harness.data.tokenize",
    "generate": "harness.models.generation",
    "Answer": "harness.models.generation",
    # files, models, data
    "write_atomic": "harness.files",
    "atomic_path": "harness.files",
    "cache_root": "harness.models.loading",
    "hub_offline": "harness.models.loading",
    "weights_fingerprint": "harness.models.loading",
    "load_prompt_set": "harness.data.sources",
    "EvaluatedTexts": "harness.data.decontamination",
    "stage_bar": "harness.progress",
    # the interpolation search, for policies
    "bisect_scale": "harness.loop.interpolation",
    "choose_scale": "harness.loop.interpolation",
    # statistics and verdicts, for renderers
    "format_pct": "harness.evaluation.stats",
    "status_of": "harness.evaluation.stats",
    "status_label": "harness.evaluation.gate",
    "comparison_row": "harness.evaluation.gate",
    "markdown_table": "harness.evaluation.gate",
    "STATUS_LABELS": "harness.evaluation.gate",
    "group_above_threshold": "harness.evaluation.breakdown",
    # the model card, for reporters
    "write_model_card": "harness.model_card",
}


def __getattr__(name: str) -> Any:
    if name in HELPERS:
        import importlib

        value = getattr(importlib.import_module(HELPERS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harness.api' has no attribute {name!r}")
