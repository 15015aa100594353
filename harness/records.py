"""The typed records that travel between harness and its plugins.

Plain dataclasses with no behaviour beyond a few derived numbers: what a formatter
reads data into, what a mixer is handed and returns, what a trainer is asked and
reports, what a benchmark scores, and what a round of the loop decides on. They are
the bottom of the house (nothing here imports another part of harness at run time),
so every layer can use them; plugins import them from ``harness``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol

if TYPE_CHECKING:  # annotations only: importing these at run time would pull in torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from harness.config import RunConfig


# --------------------------------------------------------------------- data


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


class ContaminationCheck(Protocol):
    """What a mixer asks of the run's evaluated texts (``harness.data.decontamination``
    builds the real one): whether an example holds an evaluated item's text."""

    items: int
    unchecked: int

    def contaminates(self, example: Example) -> bool: ...

    def rule(self) -> str: ...


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
    evaluated: ContaminationCheck | None = None


@dataclass
class MixResult:
    """The blended training examples and a manifest of what went in."""

    examples: list[Example]
    manifest: dict[str, Any]


# ------------------------------------------------------------------- models and training


@dataclass
class LoadedModel:
    """A model in memory with its tokenizer and a fingerprint of its weights."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    fingerprint: str
    device: str
    dtype: str


@dataclass
class TrainRequest:
    """Everything a trainer needs for one training run."""

    config: RunConfig  # the validated run config
    train: list[Example]
    validation: list[Example]
    output_dir: Path
    general: list[Example] = field(default_factory=list)  # e.g. for EWC's Fisher estimate
    resume: bool = False
    learning_rate: float | None = None  # a round's override of config.learning_rate
    plan: RoundPlan | None = None  # the loop's round this training belongs to, if any
    # Called by the engine at each evaluation step with (model, step); returns extra
    # metrics to log (the loop's early-warning forgetting signal).
    on_evaluate: Callable[[PreTrainedModel, int], dict[str, float]] | None = None

    @property
    def settings(self) -> RunConfig:
        """The earlier name of :attr:`config`, kept for trainers written to it."""
        return self.config


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


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass
class Comparison:
    """One benchmark, base vs candidate, on the same ``n`` items.

    ``difference`` is ``base - candidate`` in the metric's units (for accuracy, a
    fraction); ``relative`` is the seed's relative degradation ``(base - ft) / base``
    in percent. For a lower-is-better metric (a loss) both are sign-flipped, so a
    positive number always means "the candidate got worse".
    """

    benchmark: str
    metric: str
    n: int
    base: float
    candidate: float
    difference: float
    difference_ci: Interval
    relative: float
    relative_ci: Interval
    p_value: float  # exact McNemar (binary scores) / paired t-test (graded or continuous scores)
    worse: int  # items where the candidate scored worse than the base
    better: int  # items where the candidate scored better
    higher_is_better: bool = True
    p_is_mcnemar: bool = True  # False: graded scores, so p_value is ``p_test``'s
    p_test: str = "mcnemar"  # "mcnemar" or "paired_t" (results saved before it: "sign" when not McNemar)
    # What the verdict made of it (see :func:`status_of`): for a general benchmark
    # "pass", "fail", "undecided" or "uninformative"; for a domain benchmark "gain",
    # "no significant change" or "worse". Empty until a verdict policy judged it.
    status: str = ""
    reason: str = ""  # one line: why uninformative, or how many more items would likely decide it
    chance: float | None = None  # mean chance level over the items, when the benchmark knows it
    relative_to: str = "base"  # "base": (b - f) / b; "above_chance": (b - f) / (b - chance)
    ci_method: str = "paired bootstrap"  # how relative_ci was computed, and at which level
    more_items: int | None = None  # undecided: about how many more items would likely decide it
    looks: list[dict[str, Any]] = field(default_factory=list)  # sequential: every look taken

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """Whether a set of comparisons passes a threshold under a policy, and why not."""

    passed: bool
    policy: Literal["sequential", "point", "strict"]
    threshold: float
    failing: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    status: str = "pass"  # "pass", "fail" or "undecided" (see :func:`overall_status`)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ the loop's rounds


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
