"""The verdict file's record: typed, versioned, and the one description of ``verdict.json``.

The loop writes a run's verdict through :class:`RunVerdict` (so a field it forgets or
misspells fails the run's last step, not a reader months later), ``harness gate``,
the model card, ``publish`` and ``export-gguf`` read it back through the same model,
and reporters render what it validated. Its JSON schema is generated from it
(:func:`json_schema`; the documentation's reference pages show it), so a tool of
your own can check a verdict without importing harness.

Older verdict files stay readable: fields added since the first schema have defaults,
and keys this version does not know are kept, not refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UsageError

# The version of the file's layout, written into every verdict. A reader refuses a file
# without it: anything else named verdict.json is not ours to judge.
VERDICT_SCHEMA = "harness.verdict/1"


class _Saved(BaseModel):
    # Unknown keys are kept: a newer harness may add fields an older reader passes on.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Bounds(_Saved):
    """A two-sided confidence interval (in percent for relative forgetting)."""

    low: float
    high: float


class SavedComparison(_Saved):
    """One benchmark, base against candidate on the same items, as the round judged it."""

    benchmark: str
    metric: str
    n: int = Field(ge=0, description="items scored on both models")
    base: float
    candidate: float
    difference: float = Field(description="base - candidate in the metric's units (sign-flipped for a loss)")
    difference_ci: Bounds
    relative: float = Field(description="relative forgetting in percent: (base - ft) / base, positive = worse")
    relative_ci: Bounds
    p_value: float
    worse: int | None = None
    better: int | None = None
    higher_is_better: bool = True
    p_test: str = "mcnemar"
    status: str = Field("", description="general: pass, fail, undecided or uninformative; domain: gain, "
                                        "no significant change or worse")
    reason: str = ""
    chance: float | None = None
    relative_to: str = "base"
    ci_method: str = "paired bootstrap"
    more_items: int | None = Field(None, description="undecided: about how many more items would likely decide it")
    looks: list[dict[str, Any]] = Field(default_factory=list, description="sequential: every look taken")


class RoundResult(_Saved):
    """One finished round: what it trained with (or which round it interpolates), and how it was judged."""

    round: int = Field(ge=1)
    general_share: float
    learning_rate: float
    scale: float | None = Field(None, description="an interpolation round: source_round's weights at this "
                                                  "scale toward the base")
    source_round: int | None = None
    weights: str | None = None
    passed: bool
    worst_forgetting: float
    domain_score: float | None = None
    domain_gain: float | None = None
    # The round's own copy of the verdict's threshold and rule (absent in the earliest files).
    threshold: float | None = None
    policy: str | None = None
    method: str = ""
    status: str = ""
    reasons: list[str] = Field(default_factory=list)
    forgetting: dict[str, SavedComparison]
    gain: dict[str, SavedComparison] = Field(default_factory=dict)


class RunVerdict(_Saved):
    """``verdict.json``: every round, the round chosen and why, how verdicts were judged, where it ran."""

    schema_: str = Field(VERDICT_SCHEMA, alias="schema")
    passed: bool
    status: str = ""
    threshold: float
    policy: str
    judging: dict[str, Any] | None = None
    chosen_round: int
    reason: str = ""
    base_model: str
    trainer: str
    rounds: list[RoundResult] = Field(min_length=1)
    seconds: float | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)

    def chosen(self) -> RoundResult:
        return next(r for r in self.rounds if r.round == self.chosen_round)

    def as_json(self) -> dict[str, Any]:
        """The file's content: plain JSON types, keys as written."""
        return self.model_dump(by_alias=True)


def validate_verdict(data: Any, source: str) -> RunVerdict:
    """``data`` as a :class:`RunVerdict`; a file that is not one is a UsageError naming ``source``."""
    if not isinstance(data, dict) or data.get("schema") != VERDICT_SCHEMA:
        raise UsageError(f"{source}: not a harness verdict (expected schema {VERDICT_SCHEMA!r})")
    try:
        verdict = RunVerdict.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{source}: malformed verdict ({where}: {first['msg']})") from None
    if not any(r.round == verdict.chosen_round for r in verdict.rounds):
        raise UsageError(f"{source}: malformed verdict (chosen_round {verdict.chosen_round} is not among its rounds)")
    return verdict


def json_schema() -> dict[str, Any]:
    """The JSON schema of ``verdict.json``, generated from :class:`RunVerdict`."""
    return RunVerdict.model_json_schema(by_alias=True)
