"""What an lm-eval task measures, read from its YAML alone: no model, no data, no network.

A run must refuse ``{task: bbh, metric: acc}`` *before* it loads an 8B model and
generates every BBH answer. Everything that decides that (output type, the metrics a
task logs per item, its filters, each metric's direction) is written in the task's
YAML, which lm-eval installs as local files. :func:`read_task` walks a task, group or
tag down to its leaf tasks the way lm-eval's task factory does (group members by name,
tag or inline dict, with the group's overrides), but only reads configs; building a
task is what downloads its dataset.

Which metric and filter a benchmark reports, when the config does not say, follows
lm-eval's own conventions (:func:`default_metric`, :func:`default_filter`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Aggregations over which the benchmark's score is a mean of per-item values, so two
# models' items pair up one by one.
PER_ITEM_AGGREGATIONS = {"mean"}
# lm-eval's perplexities aggregate log-likelihoods. Per document the additive quantity is
# the negative log-likelihood: a benchmark's total NLL changes by the same relative amount
# as its log word-, byte- or bits-per-byte perplexity (the word or byte count cancels).
PERPLEXITY_METRICS = {"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"}
# Metrics where lm-eval reports the length-normalised variant for sentence completions.
_NORMALISED = {"hellaswag", "piqa", "arc_challenge", "openbookqa", "commonsense_qa", "commonsense_qa_mc"}
# What lm-eval logs a task's unfiltered results under.
NO_FILTER = "none"


@dataclass(frozen=True)
class MetricSpec:
    """One metric a task logs per item, with its direction and how lm-eval aggregates it."""

    name: str
    higher_is_better: bool
    aggregation: str  # "mean", "perplexity", ... or the name of a corpus-level aggregation

    @property
    def pairs_by_item(self) -> bool:
        """Whether the benchmark's value decomposes into per-item values a paired test can use."""
        return self.aggregation in PER_ITEM_AGGREGATIONS or self.name in PERPLEXITY_METRICS


@dataclass(frozen=True)
class TaskSpec:
    """One leaf task as its YAML defines it."""

    name: str
    output_type: str
    metrics: tuple[MetricSpec, ...]
    filters: tuple[str, ...]
    num_fewshot: int | None
    max_gen_toks: int | None
    dataset: str  # dataset_path[/dataset_name], for messages about data that cannot be reached
    known: bool = True  # False: a Python-defined task whose metrics the YAML does not say

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)


@lru_cache(maxsize=8)
def task_manager(include_paths: tuple[str, ...] = ()) -> Any:
    """lm-eval's index of task YAMLs (one per set of include paths and process: it reads ~15k files).

    Later paths override earlier ones and lm-eval's own tasks, name by name.
    """
    import logging

    from lm_eval.tasks import TaskManager

    # Overriding a task by name is what an include path is for; lm-eval warns once per task.
    index_log = logging.getLogger("lm_eval.tasks._index")
    level = index_log.level
    index_log.setLevel(logging.ERROR)
    try:
        return TaskManager(include_path=list(include_paths)) if include_paths else TaskManager()
    finally:
        index_log.setLevel(level)


def suggest(name: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


class UnknownTask(LookupError):
    """No task, group or tag of that name; the message has a did-you-mean."""


@lru_cache(maxsize=64)
def read_task(task: str, include_paths: tuple[str, ...] = ()) -> dict[str, TaskSpec]:
    """Every leaf task under ``task`` (a task, group or tag), as its YAML defines it."""
    manager = task_manager(tuple(include_paths))
    if task not in manager.task_index:
        raise UnknownTask(f"unknown lm-eval task {task!r}{suggest(task, manager.all_tasks)}")
    leaves: dict[str, TaskSpec] = {}
    for name, config in _leaf_configs(manager, task, {}, depth=0):
        leaves[name] = _spec(name, config)
    return leaves


def _leaf_configs(manager: Any, name: str, overrides: dict[str, Any], depth: int):
    """(leaf name, merged config) for every leaf under ``name``, as lm-eval's factory builds them."""
    from lm_eval.tasks._index import Kind

    if depth > 8:
        raise UnknownTask(f"lm-eval task {name!r}: groups nest too deep (a cycle?)")
    entry = manager.task_index.get(name)
    if entry is None:
        raise UnknownTask(f"lm-eval group member {name!r} is not a known task")
    if entry.kind == Kind.TAG:
        for member in sorted(entry.tags):
            yield from _leaf_configs(manager, member, overrides, depth + 1)
        return
    config = _entry_config(entry)
    if entry.kind == Kind.GROUP:
        yield from _group_members(manager, config, overrides, depth)
        return
    merged = {**config, **overrides}
    yield merged.get("task", name) if isinstance(merged.get("task"), str) else name, merged


def _group_members(manager: Any, config: dict[str, Any], overrides: dict[str, Any], depth: int):
    from lm_eval.config.group import GroupConfig
    from dataclasses import fields

    structural = {f.name for f in fields(GroupConfig)}
    inherited = {**{k: v for k, v in config.items() if k not in structural}, **overrides}
    for member in config.get("task") or []:
        if isinstance(member, str):
            yield from _leaf_configs(manager, member, inherited, depth + 1)
        elif isinstance(member, dict) and "group" in member and member["group"] not in manager.task_index:
            yield from _group_members(manager, member, inherited, depth + 1)  # an inline subgroup
        elif isinstance(member, dict):
            ref = member.get("task") or member.get("group")
            own = {k: v for k, v in member.items() if k not in ("task", "group")}
            if isinstance(ref, str) and ref in manager.task_index:
                yield from _leaf_configs(manager, ref, {**inherited, **own}, depth + 1)
            elif isinstance(ref, str):  # an inline task defined inside the group
                yield ref, {**inherited, **member}


def _entry_config(entry: Any) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    if entry.yaml_path is not None:
        return dict(load_yaml(entry.yaml_path, resolve_func=False, recursive=True))
    return dict(entry.cfg or {})


def _spec(name: str, config: dict[str, Any]) -> TaskSpec:
    from lm_eval.api import registry

    output_type = config.get("output_type", "generate_until")
    listed = config.get("metric_list")
    metrics = []
    if listed is None:  # lm-eval's defaults for the output type
        listed = [{"metric": m} for m in registry.DEFAULT_METRIC_REGISTRY.get(output_type, [])]
    for entry in listed:
        metric = entry.get("metric")
        if not isinstance(metric, str):
            continue
        direction = entry.get("higher_is_better")
        if direction is None:
            direction = _quiet(registry.is_higher_better, metric)
        metrics.append(MetricSpec(metric, True if direction is None else bool(direction),
                                  _aggregation_name(entry.get("aggregation"), metric)))
    filters = tuple(f.get("name", NO_FILTER) for f in config.get("filter_list") or []) or (NO_FILTER,)
    generation = config.get("generation_kwargs") or {}
    dataset = str(config.get("dataset_path") or "?")
    if config.get("dataset_name"):
        dataset += f"/{config['dataset_name']}"
    return TaskSpec(
        name=name,
        output_type=output_type,
        metrics=tuple(metrics),
        filters=filters,
        num_fewshot=config.get("num_fewshot"),
        max_gen_toks=generation.get("max_gen_toks", 256 if output_type == "generate_until" else None),
        dataset=dataset,
        known="class" not in config,
    )


def _aggregation_name(aggregation: Any, metric: str) -> str:
    """The aggregation's registered name (``mean``...); a task's own function keeps its path."""
    from lm_eval.api import registry

    if isinstance(aggregation, str):
        return aggregation.rsplit(".", 1)[-1] if "/" in aggregation else aggregation
    function = _quiet(registry.get_metric_aggregation, metric)
    if function is None:
        return "unknown"
    for name, candidate in registry.aggregation_registry.items():
        if candidate is function:
            return name
    return getattr(function, "__name__", "unknown")


def _quiet(function, *args):
    """lm-eval's registry logs a warning for every name it lacks; a missing entry is an answer here."""
    import logging

    logger = logging.getLogger("lm_eval.api.registry")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return function(*args)
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------------- conventions


def default_metric(task: str, leaves: dict[str, TaskSpec]) -> str | None:
    """The metric lm-eval's tables lead with: ``acc_norm`` for sentence completions that list
    it, otherwise the first per-item metric the task lists."""
    first = next(iter(leaves.values()), None)
    if first is None or not first.metrics:
        return None
    short = task.removeprefix("offline_")
    if short in _NORMALISED and all(leaf.metric("acc_norm") for leaf in leaves.values()):
        return "acc_norm"
    pairable = [m.name for m in first.metrics if m.pairs_by_item]
    return pairable[0] if pairable else first.metrics[0].name


def default_filter(leaves: dict[str, TaskSpec]) -> str:
    """The task's first filter (lm-eval's ``none`` when it has none)."""
    first = next(iter(leaves.values()), None)
    return first.filters[0] if first else NO_FILTER


def problems(task: str, leaves: dict[str, TaskSpec], metric: str, filter_name: str) -> list[str]:
    """Why ``metric`` after ``filter_name`` cannot gate ``task`` (empty when it can)."""
    found = []
    for leaf in leaves.values():
        if not leaf.known:
            continue
        where = task if len(leaves) == 1 else f"{task} (leaf {leaf.name})"
        spec = leaf.metric(metric)
        names = [m.name for m in leaf.metrics]
        if spec is None:
            found.append(f"lm-eval task {where} does not log metric {metric!r}; it logs: "
                         f"{', '.join(names) or 'none'}{suggest(metric, names)}")
        elif not spec.pairs_by_item:
            usable = [m.name for m in leaf.metrics if m.pairs_by_item]
            found.append(f"lm-eval task {where}: metric {metric!r} is aggregated over the whole corpus "
                         f"({spec.aggregation}), so it has no per-item value to pair base and fine-tuned on; "
                         f"per-item metrics: {', '.join(usable) or 'none'}")
        if filter_name not in leaf.filters:
            found.append(f"lm-eval task {where} has no filter {filter_name!r}; its filters: "
                         f"{', '.join(leaf.filters)}{suggest(filter_name, list(leaf.filters))}")
        if found:
            break  # one leaf says it; a group's other leaves share the definition
    return found
