"""Hook specifications: the whole surface a plugin can implement.

Collecting hooks (``harness_register_*``) hand the plugin a ``register`` callback;
each call adds one component class to a catalog. Lifecycle hooks observe a round
and return nothing. ``harness_next_round`` is the one single-answer hook: the
first non-``None`` answer decides what the loop does after a round.

All hooks take keyword arguments only (pluggy calls them that way), so a plugin
may implement a hook with any subset of the arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # annotations only
    from harness.components import Benchmark, DecisionContext, Formatter, Mixer, Policy, Reporter, Tracker, Trainer
    from harness.records import EvaluationRecord, NextRound, RoundPlan, TrainingRecord

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def harness_register_formatters(register: Callable[[type[Formatter]], None]) -> None:
    """Register data formatter classes (ChatML, Alpaca, ShareGPT, ...).

    A formatter reads one record of a data file into the harness's conversation
    form and writes it back out.
    """


@hookspec
def harness_register_mixers(register: Callable[[type[Mixer]], None]) -> None:
    """Register dataset mixer classes, which blend domain and general data."""


@hookspec
def harness_register_trainers(register: Callable[[type[Trainer]], None]) -> None:
    """Register trainer classes (LoRA, QLoRA, full fine-tuning, EWC, ...)."""


@hookspec
def harness_register_benchmarks(register: Callable[[type[Benchmark]], None]) -> None:
    """Register benchmark classes, general (forgetting) or domain (gain)."""


@hookspec
def harness_register_reporters(register: Callable[[type[Reporter]], None]) -> None:
    """Register report renderer classes (HTML, Markdown, JSON, ...)."""


@hookspec
def harness_register_trackers(register: Callable[[type[Tracker]], None]) -> None:
    """Register experiment trackers (MLflow, TensorBoard, ...) a run's results are sent to."""


@hookspec
def harness_register_policies(register: Callable[[type[Policy]], None]) -> None:
    """Register retrain policies: named strategies the default ``harness_next_round`` consults."""


@hookspec
def harness_register_suites(register: Callable[..., None]) -> None:
    """Register named benchmark suites: ``register(name, benchmarks, description="")``.

    ``benchmarks`` is a list of benchmark names (each registered by some plugin);
    a run config picks a suite with ``benchmarks.suite``.
    """


@hookspec
def harness_before_train(plan: RoundPlan) -> None:
    """Called with a round's plan just before its trainer starts."""


@hookspec
def harness_after_train(plan: RoundPlan, training: TrainingRecord) -> None:
    """Called once a round's training has finished and its outputs are on disk."""


@hookspec
def harness_after_evaluate(plan: RoundPlan, evaluation: EvaluationRecord) -> None:
    """Called once a round's evaluation (general and domain) is on disk."""


@hookspec(firstresult=True)
def harness_next_round(context: DecisionContext) -> NextRound | None:
    """Decide what the loop does after a round: retrain with new settings, or stop.

    The first plugin to return a non-``None`` answer wins. The built-in
    implementation (registered ``trylast``) applies the policy the run config
    names; implement this hook to replace the decision wholesale.
    """
