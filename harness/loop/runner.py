"""The train -> evaluate -> decide loop: the seed's recommended mitigation pipeline as code.

1. Evaluate the base model once (general suite + domain benchmarks; cached).
2. Round 1: mix the domain data with the first general share, train, evaluate,
   measure forgetting against the base on the same items.
3. Ask ``harness_next_round`` what to do: stop (a round passed, or the policy is
   out of options) or retrain with a new share / learning rate.
4. Choose the final round and write ``verdict.json``; render the reports.

Every round is completely on disk (``COMPLETE`` marker written last) before the
next starts, so ``--resume`` never retrains or re-evaluates a finished round.

Under a launcher (torchrun, accelerate launch) only rank 0 runs this loop; the
other ranks join its training runs (:mod:`harness.loop.ranks`).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from harness import __version__

from harness.evaluation import breakdown, judging

from harness.evaluation import stats
from harness.api import (
    Action,
    Benchmark,
    BenchmarkResult,
    DataSource,
    DecisionContext,
    EvaluationRecord,
    Example,
    LoadedModel,
    MixContext,
    MixResult,
    NextRound,
    RoundOutcome,
    RoundPlan,
    TrainingRecord,
    TrainRequest,
    UsageError,
)
from harness.config import RunConfig, load_config, parse_overrides
from harness.data.decontamination import EvaluatedTexts
from harness.evaluation.scoring import Scorer, take_items
from harness.evaluation.judging import JudgeSettings
from harness.models.loading import cache_root
from harness.plugins import Harness
from harness.progress import say, stage_bar
from harness.evaluation.gate import VERDICT_SCHEMA
from harness.loop import replay
from harness.loop.ranks import train_on_all_ranks
from harness.loop.rundir import RoundFolder, RunFolder, read_json, write_atomic, write_json

log = logging.getLogger(__name__)


# --------------------------------------------------------------------- components


@dataclass
class Components:
    """The run's plugins, built with their validated options before anything loads."""

    trainer: Any
    mixer: Any
    policy: Any
    general: list[Benchmark]
    domain: list[Benchmark]
    limits: dict[str, int | None] = field(default_factory=dict)


def _build(harness: Harness, kind: str, ref: Any) -> Any:
    cls = harness.component(kind, ref.name)
    return cls(cls.Options.model_validate(ref.options))


def build_components(config: RunConfig, harness: Harness) -> Components:
    """Every plugin of the run, built and checked (benchmarks included) before any model loads."""
    bench = config.benchmarks
    general_refs = list(bench.general)
    if not general_refs and bench.suite:
        from harness.config import BenchmarkRef

        general_refs = [BenchmarkRef(name=n) for n in harness.suite(bench.suite).benchmarks]
    general_refs = shared_benchmark_options(harness, general_refs, bench.options)
    domain_refs = shared_benchmark_options(harness, list(bench.domain), bench.options)
    general = [_build_benchmark(harness, "general", r) for r in general_refs]
    domain = [_build_benchmark(harness, "domain", r) for r in domain_refs]
    unused = set(bench.options) - {key for b in [*general, *domain] for key in type(b.options).model_fields}
    if unused:
        raise UsageError(f"benchmarks.options: no benchmark of this run takes {', '.join(sorted(unused))}")
    problems = [f"benchmarks: {b.name}: {problem}" for b in [*general, *domain] for problem in b.configuration_problems()]
    if problems:
        raise UsageError("\n".join(problems))
    seen: dict[str, str] = {}
    for where, instance in [*(("general", b) for b in general), *(("domain", b) for b in domain)]:
        if instance.name in seen:
            raise UsageError(f"benchmarks.{where}: {instance.name!r} is listed twice (also in "
                             f"benchmarks.{seen[instance.name]}); each benchmark can be measured once per run")
        seen[instance.name] = where
    # Only what a benchmark sets itself: under the sequential policy it caps that
    # benchmark's looks; elsewhere benchmarks.limit applies.
    limits = {b.name: r.limit for b, r in zip([*general, *domain], [*general_refs, *domain_refs]) if r.limit}
    trainer = _build(harness, "trainer", config.trainer)
    # Fail here, before any model loads (e.g. external weights that do not exist); what needs a GPU
    # is checked when a run starts (harness.hardware), so a config validates on any machine.
    trainer.check_environment(config)
    return Components(
        trainer=trainer,
        mixer=_build(harness, "mixer", config.mitigation.mixer),
        policy=build_policy(harness, config.mitigation.policy.name, config.mitigation.policy.options),
        general=general,
        domain=domain,
        limits=limits,
    )


def shared_benchmark_options(harness: Harness, refs: list[Any], shared: dict[str, Any]) -> list[Any]:
    """``refs`` with ``benchmarks.options`` added where each benchmark's Options take the key."""
    if not shared:
        return refs
    from harness.evaluation.scoring import options_taken

    out = []
    for ref in refs:
        given = options_taken(harness.component("benchmark", ref.name), shared)
        out.append(type(ref)(**{**ref.model_dump(exclude_none=True), **given, **ref.options, "name": ref.name}))
    return out


def _build_benchmark(harness: Harness, section: str, ref: Any) -> Benchmark:
    from pydantic import ValidationError

    try:
        return _build(harness, "benchmark", ref)
    except ValidationError as error:
        raise UsageError(f"benchmarks.{section}: {ref.name!r}: invalid options: {error}") from None


def build_policy(harness: Harness, name: str, options: dict[str, Any], chain: tuple[str, ...] = ()) -> Any:
    """The policy ``name`` and, when its options name one (``then``), the policy it hands over to."""
    from pydantic import ValidationError

    where = "mitigation.policy" + ".then" * len(chain)
    if name in chain:
        raise UsageError(f"{where}: {name!r} hands over to itself ({' -> '.join([*chain, name])})")
    cls = harness.component("policy", name)
    try:
        policy = cls(cls.Options.model_validate(options))
    except ValidationError as error:
        raise UsageError(f"{where} {name!r}: invalid options: {error}") from None
    follower = getattr(policy.options, "then", None)
    if follower:
        policy.then = build_policy(harness, follower, getattr(policy.options, "then_options", {}) or {},
                                   (*chain, name))
    return policy


# ---------------------------------------------------------------------------- data


@dataclass
class RunData:
    train: list[Example]
    validation: list[Example]
    domain: DataSource
    general: list[DataSource]
    manifest: dict[str, Any]

    @classmethod
    def nothing(cls) -> RunData:
        """No data: a run that judges weights trained elsewhere and names no data files."""
        return cls([], [], DataSource("domain", []), [], {"sources": [], "lengths": {}, "split": {}})


def prepare_data(config: RunConfig, harness: Harness) -> RunData:
    """Read and validate every source, split domain data into train/validation."""
    from harness.data import examples as data_io
    from harness.data.sources import load_spec

    if not config.datasets:
        raise UsageError("datasets: the run needs at least one domain data file")
    base_dir = config.resolve_path(".")
    domain_examples: list[Example] = []
    sources_manifest = []
    for spec in config.datasets:
        source = load_spec(spec, harness, base_dir=base_dir, on_error=config.invalid_lines)
        examples = source.examples[: spec.max_samples] if spec.max_samples else source.examples
        domain_examples += examples
        sources_manifest.append({"role": "domain", "path": spec.path, "type": spec.type, "examples": len(examples),
                                 "duplicates": len(data_io.find_duplicates(examples)),
                                 "sha256": data_io.examples_digest(examples)})
    domain_examples, lengths = _check_lengths(domain_examples, config)
    train, validation = data_io.validation_split(domain_examples, config.val_set_size, config.seed)
    general = []
    for spec in config.mitigation.general_data:
        source = load_spec(spec, harness, base_dir=base_dir, on_error=config.invalid_lines)
        general.append(source)
        sources_manifest.append({"role": "general", "path": spec.path, "type": spec.type,
                                 "examples": len(source.examples), "weight": source.weight,
                                 "max_samples": source.max_samples, "sha256": source.sha256})
    domain = DataSource("domain", train, sha256=data_io.examples_digest(train))
    manifest = {
        "sources": sources_manifest,
        "lengths": lengths,
        "split": {"train": len(train), "validation": len(validation), "val_set_size": config.val_set_size,
                  "seed": config.seed, "train_sha256": domain.sha256,
                  "validation_sha256": data_io.examples_digest(validation)},
    }
    return RunData(train, validation, domain, general, manifest)


def _check_lengths(examples: list[Example], config: RunConfig) -> tuple[list[Example], dict[str, Any]]:
    """Apply ``over_length`` to the domain data with the base model's own tokenizer (no weights load)."""
    from harness.data.chat_templates import missing_template_message
    from harness.data.lengths import check_lengths
    from harness.models.loading import TokenizerSetup, load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(config.base_model, config.resolve_path(".")), config.trust_remote_code,
                               TokenizerSetup.of(config))
    if not tokenizer.chat_template and any(e.is_chat for e in examples):
        raise UsageError(missing_template_message(config.base_model))  # before any weights load
    kept, report = check_lengths(examples, tokenizer, config.sequence_len, config.over_length, config.train_on)
    return kept, {"sequence_len": config.sequence_len, "policy": config.over_length,
                  "over": len(report.over), "kept": len(kept), "max_tokens": max(report.lengths, default=0)}


# ---------------------------------------------------------------------- evaluation


def judge_settings(config: RunConfig, components: Components) -> JudgeSettings:
    """How this run decides: the forgetting section and the benchmarks' sampling, in one record."""
    bench, forgetting = config.benchmarks, config.forgetting
    return JudgeSettings(
        threshold=forgetting.threshold, policy=forgetting.policy, confidence=forgetting.confidence,
        spending=forgetting.spending, population=forgetting.population, relative_to=forgetting.relative_to,
        first_look=bench.first_look,
        max_items=bench.max_items, limit=bench.limit, limits=components.limits, seed=bench.seed,
        base_full=bench.base_full,
        bootstrap_samples=forgetting.bootstrap_samples,
    )


def judge(base: Scorer, candidate: Scorer, components: Components, config: RunConfig,
          say: Any = lambda _m: None, earlier: EvaluationRecord | None = None) -> EvaluationRecord:
    """Forgetting on every general benchmark and gain on every domain one, paired, under the run's policy.

    ``earlier``: the interpolation probe judged before this one (the same update at another
    scale); base-assisted sampling looks first where it changed items.
    """
    settings = judge_settings(config, components)
    judgement = judging.judge(base, candidate, components.general, components.domain, settings, say=say,
                              earlier=earlier.candidate if earlier is not None else None)
    return EvaluationRecord(base=judgement.base, candidate=judgement.candidate, forgetting=judgement.forgetting,
                            gain=judgement.gain, passed=judgement.verdict.passed, policy=settings.policy,
                            threshold=settings.threshold, status=judgement.verdict.status,
                            reasons=judgement.verdict.reasons, method=settings.method())


def _comparisons_json(record: EvaluationRecord) -> dict[str, Any]:
    return {
        "threshold": record.threshold,
        "policy": record.policy,
        "method": record.method,
        "passed": record.passed,
        "status": record.status,
        "reasons": record.reasons,
        "worst_forgetting": record.worst_forgetting(),
        "forgetting": {k: c.as_dict() for k, c in record.forgetting.items()},
        "gain": {k: c.as_dict() for k, c in record.gain.items()},
    }


def breakdown_json(record: EvaluationRecord, components: Components, config: RunConfig) -> dict[str, Any]:
    """Where the round forgot: per-group comparisons and flipped items of every benchmark (a report, not a verdict)."""
    settings = judge_settings(config, components)
    return breakdown.round_breakdown([*components.general, *components.domain], record.base, record.candidate,
                                     confidence=settings.confidence, samples=settings.bootstrap_samples,
                                     seed=settings.seed)


def _comparison_from_json(data: dict[str, Any]) -> stats.Comparison:
    data = {k: v for k, v in data.items() if k in stats.Comparison.__dataclass_fields__}
    data["difference_ci"] = stats.Interval(**data["difference_ci"])
    data["relative_ci"] = stats.Interval(**data["relative_ci"])
    data.setdefault("p_test", "mcnemar" if data.get("p_is_mcnemar", True) else "sign")  # saved before p_test
    return stats.Comparison(**data)


def load_evaluation(folder: RunFolder, index: int) -> EvaluationRecord:
    files = folder.round(index)
    saved = read_json(files.forgetting)
    return EvaluationRecord(
        base=folder.load_results(files.base_eval if files.base_eval.is_file() else folder.base_eval),
        candidate=folder.load_results(files.eval),
        forgetting={k: _comparison_from_json(v) for k, v in saved["forgetting"].items()},
        gain={k: _comparison_from_json(v) for k, v in saved["gain"].items()},
        passed=saved["passed"], policy=saved["policy"], threshold=saved["threshold"],
        status=saved.get("status", "pass" if saved["passed"] else "fail"), reasons=saved.get("reasons", []),
        method=saved.get("method", ""),
    )


# ---------------------------------------------------------------------------- loop


class Loop:
    """One run of the loop over a run folder; ``resume`` picks up where a crash left off."""

    def __init__(self, config: RunConfig, harness: Harness, run_dir: Path, *, progress: bool = True) -> None:
        self.config = config
        self.harness = harness
        self.folder = RunFolder(run_dir)
        self.progress = progress
        self.components = build_components(config, harness)
        from harness.config import hardware_notes

        for note in [*config._notes, *hardware_notes(config)]:
            log.warning(note)
        self.timings: dict[str, float] = {}
        self._base: LoadedModel | None = None
        self._base_scorer: Scorer | None = None
        self._item_details: replay.Details | None = None
        self._evaluated_texts: EvaluatedTexts | None = None

    # -- lazily loaded base model: a resume that only re-renders never loads it
    def base_model(self) -> LoadedModel:
        if self._base is None:
            from harness.models.loading import TokenizerSetup, load_model

            start = time.perf_counter()
            self._base = load_model(self.config.base_model, device=self.config.device, dtype=self.config.dtype,
                                    trust_remote_code=self.config.trust_remote_code,
                                    allow_pickle_weights=self.config.allow_pickle_weights,
                                    base_dir=self.config.resolve_path("."), setup=TokenizerSetup.of(self.config),
                                    model_type=self.config.model_type, fingerprint=False)  # the Scorer hashes it
            self._add_time("load base model", start)
        return self._base

    def _add_time(self, stage: str, start: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    @contextlib.contextmanager
    def _evaluation_bar(self, stage: str, *scorers: Scorer) -> Iterator[None]:
        """One console bar for an evaluation stage, counting the items its scorers score (base and candidate)."""
        with stage_bar(stage, unit="item", disable=not self.progress) as bar:
            for scorer in scorers:
                scorer.progress = bar.update
            try:
                yield
            finally:
                for scorer in scorers:
                    scorer.progress = None

    def _say(self, message: str) -> None:
        if self.progress:
            say(message)

    def run(self) -> dict[str, Any]:
        from harness.loop.console import libraries_to_file

        self.folder.root.mkdir(parents=True, exist_ok=True)
        with libraries_to_file(self.folder.library_log):
            return self._run()

    def _run(self) -> dict[str, Any]:
        from harness.hardware import gpu_only_problems

        problems = gpu_only_problems(self.config) if self._trains() else []
        if problems:  # before any data or weights load
            raise UsageError("this machine cannot run the config: " + "; ".join(problems))
        if self._trains():
            from harness.memory.startup import check_memory_at_start

            check_memory_at_start(self.config, say=self._say)
        started = time.perf_counter()
        folder = self.folder
        write_atomic(folder.config, yaml.safe_dump(config_snapshot(self.config), sort_keys=False))
        data = (prepare_data(self.config, self.harness) if self.config.datasets or self._trains()
                else RunData.nothing())
        write_json(folder.manifest, data.manifest)
        self._say(f"data: {len(data.train)} train / {len(data.validation)} validation domain examples, "
                  f"{sum(len(s.examples) for s in data.general)} general examples from {len(data.general)} sources")

        self.base_results()
        history: list[RoundOutcome] = []
        share = self.config.mitigation.schedule[0] if self.config.mitigation.schedule else self.config.mitigation.general_share
        lr = self.config.learning_rate
        index = 1
        scale: float | None = None
        source: int | None = None
        while True:
            plan = RoundPlan(index, share, lr, folder.round_dir(index), scale=scale, source_round=source)
            if folder.is_complete(index):
                outcome, decision = self._load_round(plan)
                self._say(f"round {index}: already complete on disk ({_describe_plan(outcome.plan)}); "
                          f"not recomputed")
            else:
                outcome, decision = self._run_round(plan, data, history)
            history.append(outcome)
            if decision.action is Action.STOP:
                break
            share = decision.general_share if decision.general_share is not None else share
            lr = decision.learning_rate if decision.learning_rate is not None else lr
            if decision.action is Action.INTERPOLATE:
                scale, source = decision.scale, outcome.plan.index if outcome.plan.trained else outcome.plan.source_round
            else:
                scale = source = None
            index += 1
        verdict = self._verdict(history, time.perf_counter() - started)
        write_json(folder.verdict, verdict)
        return verdict

    def base_scorer(self) -> Scorer:
        """The base model's outcomes: what the run folder holds, extended (and saved at once) as needed."""
        if self._base_scorer is None:
            folder = self.folder
            known = folder.load_results(folder.base_eval) if folder.base_eval.is_file() else {}

            def save(name: str, result: BenchmarkResult) -> None:
                saved = folder.load_results(folder.base_eval) if folder.base_eval.is_file() else {}
                saved[name] = result
                folder.save_results(folder.base_eval, saved)

            self._base_scorer = Scorer(self.base_model, batch_size=self.config.benchmarks.batch_size,
                                       known=known, on_scored=save)
        return self._base_scorer

    def base_results(self) -> dict[str, BenchmarkResult]:
        """The base model's results on every benchmark's first sample, scored once and saved.

        Scored before any training, so a problem with a benchmark shows in seconds;
        a sequential verdict extends the base's sample later, only where it needs to.
        """
        settings = judge_settings(self.config, self.components)
        first = {b.name: (settings.first_look if settings.policy == "sequential" else settings.limit_of(b))
                 for b in self.components.general}
        first.update({b.name: settings.limit_of(b) for b in self.components.domain})
        scorer = self.base_scorer()
        benchmarks = [*self.components.general, *self.components.domain]
        if all(len(scorer.known(b.name)) >= len(take_items(b, first[b.name], settings.seed)) for b in benchmarks):
            self._say("base model: evaluation already on disk; not recomputed")
        else:
            self._say(f"base model: evaluating {self.config.base_model}")
        start = time.perf_counter()
        with self._evaluation_bar("base evaluation", scorer):
            results = {b.name: scorer.score(b, take_items(b, first[b.name], settings.seed)) for b in benchmarks}
        self._add_time("evaluate base", start)
        return results

    def _load_round(self, plan: RoundPlan) -> tuple[RoundOutcome, NextRound]:
        files = self.folder.round(plan.index)
        saved_plan = read_json(files.plan)
        plan.general_share, plan.learning_rate = saved_plan["general_share"], saved_plan["learning_rate"]
        plan.reason = saved_plan.get("reason", "")
        plan.scale, plan.source_round = saved_plan.get("scale"), saved_plan.get("source_round")
        decision = read_json(files.decision)
        return (
            RoundOutcome(plan, load_evaluation(self.folder, plan.index)),
            NextRound(Action(decision["action"]), decision["reason"], decision.get("general_share"),
                      decision.get("learning_rate"), decision.get("scale")),
        )

    def _run_round(self, plan: RoundPlan, data: RunData, history: list[RoundOutcome]) -> tuple[RoundOutcome, NextRound]:
        hook = self.harness.hook
        files = self.folder.round(plan.index)
        write_json(files.plan, {"index": plan.index, "general_share": plan.general_share,
                                "learning_rate": plan.learning_rate, "reason": plan.reason,
                                "scale": plan.scale, "source_round": plan.source_round})
        self._say(f"round {plan.index}: {_describe_plan(plan)}")
        if plan.trained:
            weights, is_adapter = self._train(plan, data, files, history)
        else:
            weights, is_adapter = self._interpolated_weights(plan, files)

        start = time.perf_counter()
        candidate = self._candidate(weights, is_adapter)
        scorer = Scorer(candidate, batch_size=self.config.benchmarks.batch_size)
        with self._evaluation_bar(f"round {plan.index} evaluation", self.base_scorer(), scorer):
            # Not guided by the previous round: new training changes items the last one left alone,
            # and guiding draws away from them broke the error bound in simulation (assisted.py).
            evaluation = judge(self.base_scorer(), scorer, self.components, self.config, say=self._say)
        self._add_time("evaluate rounds", start)
        write_json(files.samples, self._samples(candidate, data))
        del candidate, scorer
        self.folder.save_results(files.eval, evaluation.candidate)
        self.folder.save_results(files.base_eval, evaluation.base)
        write_json(files.forgetting, _comparisons_json(evaluation))
        write_json(files.breakdown, breakdown_json(evaluation, self.components, self.config))
        hook.harness_after_evaluate(plan=plan, evaluation=evaluation)
        self._say(_round_summary(plan, evaluation))

        outcome = RoundOutcome(plan, evaluation)
        probe = self._scale_probe(plan, weights, evaluation) if plan.trained else None
        decision = hook.harness_next_round(
            context=DecisionContext(settings=self.config, history=[*history, outcome], policy=self.components.policy,
                                    scale_probe=probe)
        )
        if decision is None:
            raise UsageError("no plugin answered harness_next_round (is the 'policies' plugin disabled?)")
        if not self._trains() and decision.action is not Action.STOP:
            decision = NextRound(Action.STOP, f"{evaluation.status or 'judged'}: the weights were trained elsewhere, "
                                              f"so there is no retraining with more general data to try here")
        if probe is not None and probe.points:
            probe.save(chosen={"scale": decision.scale} if decision.action is Action.INTERPOLATE else None)
            self.timings["interpolation search"] = self.timings.get("interpolation search", 0.0) + probe.seconds
        write_json(files.decision, decision)
        self.folder.mark_complete(plan.index)
        self._say(f"round {plan.index}: {decision.action.value} - {decision.reason}")
        return outcome, decision

    def _trains(self) -> bool:
        """False when the run judges weights trained elsewhere (nothing to mix or retrain)."""
        return self.components.trainer.uses_training_data()

    def _train(self, plan: RoundPlan, data: RunData, files: RoundFolder,
               history: list[RoundOutcome]) -> tuple[Path, bool]:
        """Mix (by what the rounds so far forgot), train and choose the round's weights."""
        hook = self.harness.hook
        start = time.perf_counter()
        if not self._trains():
            write_json(files.mix, {"mixer": None, "reason": "the weights were trained elsewhere; nothing was mixed"})
            mixed = MixResult([], {})
        else:
            mixed = self._mix(plan, data, history, files)
        self._add_time("mix data", start)

        hook.harness_before_train(plan=plan)
        start = time.perf_counter()
        train_dir = files.train
        general_examples = [e for s in data.general for e in s.examples]
        if not general_examples and mixed.examples:
            # Self-rehearsal brings its own general data (the base's answers): the mixed-in
            # examples that are not domain examples, which EWC's Fisher estimate needs.
            domain = {id(e) for e in [*data.train, *data.domain.examples]}
            general_examples = [e for e in mixed.examples if id(e) not in domain]
        request = TrainRequest(
            settings=self.config, train=mixed.examples, validation=data.validation, output_dir=train_dir,
            general=general_examples, resume=train_dir.exists(), learning_rate=plan.learning_rate, plan=plan,
            on_evaluate=self._early_warning(data, mixed.examples) if self._trains() else None,
        )
        # Under a launcher the other ranks wait for this job, and train it with this one.
        training: TrainingRecord = train_on_all_ranks(self.config.trainer, request, self.components.trainer.train)
        self._add_time("train", start)
        write_json(files.training, training)
        hook.harness_after_train(plan=plan, training=training)
        return self._choose_weights(training, files)

    def _mix(self, plan: RoundPlan, data: RunData, history: list[RoundOutcome], files: RoundFolder) -> MixResult:
        """The round's training mix, by what the rounds so far forgot (saved with its statistics)."""
        mixed = self.components.mixer.mix(
            data.domain, data.general,
            # One seed for every round: a larger share then extends the earlier round's
            # general sample (and reuses its cached self-rehearsal answers) instead of redrawing it.
            MixContext(general_share=plan.general_share, seed=self.config.seed,
                       cache_dir=cache_root(), load_base_model=self.base_model,
                       forgetting=replay.measured_forgetting(history[-1].evaluation, self._details())
                       if history else {},
                       threshold=self.config.forgetting.threshold, evaluated=self._evaluated()),
        )
        write_json(files.mix, mixed.manifest)
        write_json(files.data_stats, self._data_stats(mixed.examples))
        return mixed

    # -- interpolation toward the base (the ``interpolate`` policy)

    def _interpolation(self, index: int) -> Any:
        """Round ``index``'s evaluated weights as a path from the base model."""
        from harness.models.interpolation import Interpolation

        files = self.folder.round(index)
        weights = Path(read_json(files.checkpoint_choice)["weights"])
        is_adapter = bool(read_json(files.training)["is_adapter"])
        return Interpolation(self.base_model(), weights, is_adapter,
                             load_tuned=lambda: self._candidate(weights, is_adapter))

    def _scale_probe(self, plan: RoundPlan, weights: Path, evaluation: EvaluationRecord) -> Any:
        """What the policy calls to judge this round's weights at a scale toward the base."""
        from harness.loop.interpolation import ScaleProbe

        files = self.folder.round(plan.index)
        interpolation: Any = None
        latest = evaluation  # each probe looks first where the point judged before it changed items

        def build(scale: float, folder: Path) -> LoadedModel:
            nonlocal interpolation
            interpolation = interpolation or self._interpolation(plan.index)
            return interpolation.model_at(scale, scratch=folder)

        def judge_at(model: LoadedModel, stage: str) -> EvaluationRecord:
            nonlocal latest
            scorer = Scorer(model, batch_size=self.config.benchmarks.batch_size)
            with self._evaluation_bar(f"round {plan.index} {stage}", self.base_scorer(), scorer):
                latest = judge(self.base_scorer(), scorer, self.components, self.config, earlier=latest)
            return latest

        return ScaleProbe(build, judge_at, files.interpolation, files.interpolation_probes,
                          describe=_point_json, say=self._say)

    def _interpolated_weights(self, plan: RoundPlan, files: RoundFolder) -> tuple[Path, bool]:
        """An interpolation round's weights: the source round's at ``plan.scale``, saved in plain form."""
        assert plan.scale is not None and plan.source_round is not None
        start = time.perf_counter()
        interpolation = self._interpolation(plan.source_round)
        folder = interpolation.save(plan.scale, files.weights)
        self._add_time("interpolation search", start)
        write_json(files.checkpoint_choice, {"policy": "interpolate", "weights": str(folder), "scale": plan.scale,
                                             "source_round": plan.source_round, "form": interpolation.form,
                                             "reason": f"round {plan.source_round}'s weights at s={plan.scale:g} "
                                                       f"toward the base"})
        write_json(files.training, {"is_adapter": interpolation.form == "adapter", "weights_dir": str(folder),
                                    "steps": 0, "seconds": 0.0, "interpolated": True})
        return folder, interpolation.form == "adapter"

    def _details(self) -> replay.Details:
        """Every benchmark's item details (texts, groups), read once per run."""
        if self._item_details is None:
            self._item_details = replay.read_details(self.components.general, self.components.domain,
                                                     judge_settings(self.config, self.components))
        return self._item_details

    def _evaluated(self) -> EvaluatedTexts:
        """The texts of every item this run may evaluate, which no training mix may hold."""
        if self._evaluated_texts is None:
            self._evaluated_texts = replay.evaluated_texts(self._details())
        return self._evaluated_texts

    def _sample_prompts(self, data: RunData) -> list[tuple[str, list[dict[str, str]]]]:
        """A few domain prompts (validation split, so unseen in training) and the configured general ones."""
        prompts = []
        for example in data.validation[: self.config.samples.domain]:
            turns = [{"role": m.role, "content": m.content} for m in example.messages]
            last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
            if last_user is not None:
                prompts.append(("domain", turns[: last_user + 1]))
        prompts += [("general", [{"role": "user", "content": text}]) for text in self.config.samples.general]
        return prompts

    def _samples(self, candidate: LoadedModel, data: RunData) -> list[dict[str, str]]:
        from harness.models.generation import generate

        prompts = self._sample_prompts(data)
        if not prompts:
            return []
        start = time.perf_counter()
        base_file = self.folder.base_samples
        if base_file.is_file():
            base_outputs = [s["output"] for s in read_json(base_file)]
        else:
            base_outputs = [a.text for a in generate(self.base_model(), [p for _, p in prompts],
                                                     max_new_tokens=self.config.samples.max_new_tokens)]
            write_json(base_file, [{"kind": k, "prompt": p[-1]["content"], "output": o}
                                   for (k, p), o in zip(prompts, base_outputs)])
        outputs = [a.text for a in generate(candidate, [p for _, p in prompts],
                                            max_new_tokens=self.config.samples.max_new_tokens)]
        self._add_time("sample generations", start)
        return [{"kind": kind, "prompt": messages[-1]["content"], "base": base, "candidate": out}
                for (kind, messages), base, out in zip(prompts, base_outputs, outputs)]

    def _data_stats(self, examples: list[Example]) -> dict[str, Any]:
        """Token lengths of the training mix (the report's histogram), with the model's own tokenizer."""
        from harness.models.loading import TokenizerSetup, load_tokenizer, resolve_model
        from harness.data.tokenize import token_length

        tokenizer = self._base.tokenizer if self._base is not None else load_tokenizer(
            resolve_model(self.config.base_model, self.config.resolve_path(".")), self.config.trust_remote_code,
            TokenizerSetup.of(self.config))
        lengths = [token_length(e, tokenizer) for e in examples]
        return {"examples": len(lengths), "token_lengths": lengths,
                "over_sequence_len": sum(1 for n in lengths if n > self.config.sequence_len),
                "sequence_len": self.config.sequence_len}

    def _early_warning(self, data: RunData, training_examples: list[Example]) -> Any:
        """The forgetting early-warning signal the trainer measures at each evaluation step."""
        samples = self.config.forgetting.early_warning_samples
        if not samples or not data.validation:  # without validation there are no evaluation steps
            return None
        from harness.training.sharding import wants_sharding

        if wants_sharding(self.config):
            # The check scores the model on rank 0 alone; a sharded model computes only on all
            # ranks together (rank 0 alone would wait for the others forever on a GPU).
            self._say("note: the forgetting early warning is off under fsdp / deepspeed (it scores the "
                      "model on one rank, and a sharded model runs only on all of them); the verdict is unchanged")
            return None
        from harness.loop.early_warning import GeneralDrift, drift_sample

        general = drift_sample([e for s in data.general for e in s.examples], samples, self.config.seed,
                               exclude=training_examples)
        base = self.base_model()
        # LoRA models give their own base distributions (adapter off); others compare with the base in memory.
        return GeneralDrift(general, base.tokenizer, max_length=self.config.sequence_len,
                            batch_size=self.config.eval_batch_size, reference=base.model)

    def _choose_weights(self, training: TrainingRecord, files: RoundFolder) -> tuple[Path, bool]:
        """The final weights, or the forgetting-aware choice among evaluation-step checkpoints."""
        choice: dict[str, Any] = {"policy": self.config.forgetting.checkpoint_choice, "step": training.steps,
                                  "weights": str(training.weights_dir), "reason": "the final weights"}
        if self.config.forgetting.checkpoint_choice == "forgetting_aware":
            from harness.loop.early_warning import choose_checkpoint
            from harness.loop.reporting import read_jsonl
            from harness.training.checkpoints import checkpoint_step, complete_checkpoints

            saved = {checkpoint_step(p): p for p in complete_checkpoints(training.output_dir / "checkpoints")}
            evals = [r for r in read_jsonl(training.metrics_file) if r.get("type") == "eval"]
            step, reason = choose_checkpoint(evals, self.config.forgetting.early_warning_threshold,
                                             set(saved) | {training.steps})
            if step is not None:
                weights = training.weights_dir if step == training.steps else saved[step]
                choice.update(step=step, weights=str(weights), reason=reason)
            else:
                choice["reason"] = f"the final weights ({reason})"
        write_json(files.checkpoint_choice, choice)
        if choice["step"] != training.steps:
            self._say(f"checkpoint: {choice['reason']}")
        return Path(choice["weights"]), training.is_adapter

    def _candidate(self, weights: Path, is_adapter: bool) -> LoadedModel:
        from harness.evaluation.scoring import merge_adapter
        from harness.models.loading import load_model

        if is_adapter:
            return merge_adapter(self.base_model(), weights)
        return load_model(str(weights), device=self.config.device, dtype=self.config.dtype,
                          model_type=self.config.model_type, fingerprint=False)

    def _verdict(self, history: list[RoundOutcome], seconds: float) -> dict[str, Any]:
        rounds = []
        for outcome in history:
            evaluation = outcome.evaluation
            domain_score = evaluation.domain_score()
            domain_gain = evaluation.domain_gain()  # direction-aware: rounds compare alike whatever is measured
            rounds.append({
                "round": outcome.plan.index,
                "general_share": outcome.plan.general_share,
                "learning_rate": outcome.plan.learning_rate,
                # an interpolation round: round source_round's weights at this scale toward the base
                "scale": outcome.plan.scale,
                "source_round": outcome.plan.source_round,
                "weights": (self.folder.round(outcome.plan.index).read("checkpoint_choice") or {}).get("weights"),
                "passed": evaluation.passed,
                "worst_forgetting": evaluation.worst_forgetting(),
                "domain_score": domain_score,
                "domain_gain": domain_gain,
                **_comparisons_json(evaluation),
            })
        passing = [r for r in rounds if r["passed"]]
        if passing:
            chosen = max(passing, key=lambda r: (stats.gain_rank(r["domain_gain"]), -r["round"]))
            why = f"round {chosen['round']} passes with the best domain gain among passing rounds"
            if chosen["scale"] is not None:
                why += f" (round {chosen['source_round']}'s weights at s={chosen['scale']:g} toward the base)"
        else:
            chosen = min(rounds, key=lambda r: r["worst_forgetting"])
            why = (f"no round passed; round {chosen['round']} forgot least ({chosen['worst_forgetting']:.2f}%)"
                   + (" and is undecided" if chosen["status"] == "undecided" else ""))
        settings = judge_settings(self.config, self.components)
        return {
            "schema": VERDICT_SCHEMA,
            "passed": bool(passing),
            "status": "pass" if passing else chosen["status"],
            "threshold": self.config.forgetting.threshold,
            "policy": self.config.forgetting.policy,
            "judging": settings.as_dict(),
            "chosen_round": chosen["round"],
            "reason": why,
            "base_model": self.config.base_model,
            "trainer": self.config.trainer.name,
            "rounds": rounds,
            "seconds": round(seconds, 1),
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "environment": environment(),
        }


def _describe_plan(plan: RoundPlan) -> str:
    if not plan.trained:
        return f"round {plan.source_round}'s weights at s={plan.scale:g} toward the base (no training)"
    return f"general share {plan.general_share:.0%}, learning rate {plan.learning_rate:g}"


def _point_json(evaluation: EvaluationRecord) -> dict[str, Any]:
    """One probed scale, as interpolation.json keeps it."""
    return {"status": evaluation.status or ("pass" if evaluation.passed else "fail"), "passed": evaluation.passed,
            "worst_forgetting": evaluation.worst_forgetting(), "domain_gain": evaluation.domain_gain(),
            "domain_score": evaluation.domain_score(),
            "forgetting": {k: c.as_dict() for k, c in evaluation.forgetting.items()},
            "gain": {k: c.as_dict() for k, c in evaluation.gain.items()}}


def _round_summary(plan: RoundPlan, evaluation: EvaluationRecord) -> str:
    lines = [f"round {plan.index} results ({evaluation.status.upper() or ('PASS' if evaluation.passed else 'FAIL')}, "
             f"threshold {evaluation.threshold}% {evaluation.policy}):"]
    for name, c in {**evaluation.forgetting, **evaluation.gain}.items():
        kind = "forgetting" if name in evaluation.forgetting else "gain"
        value = c.relative if kind == "forgetting" else -c.relative
        lo, hi = (c.relative_ci.low, c.relative_ci.high) if kind == "forgetting" else (-c.relative_ci.high, -c.relative_ci.low)
        status = {"pass": "decided pass", "fail": "decided fail"}.get(c.status, c.status)
        lines.append(f"  {name:<22} {c.base:.3f} -> {c.candidate:.3f}  {kind} {stats.format_pct(value)} "
                     f"[{stats.format_pct(lo)}, {stats.format_pct(hi)}] n={c.n}  {status}")
    return "\n".join(lines)


def config_snapshot(config: RunConfig) -> dict[str, Any]:
    """The config as run, with local data paths made absolute so the snapshot stands alone."""
    snapshot = config.model_dump(mode="json", exclude={"callbacks"})
    for key, specs in (("datasets", snapshot["datasets"]), ("general_data", snapshot["mitigation"]["general_data"])):
        for spec in specs:
            if "://" not in spec["path"] and not spec["path"].startswith("builtin:"):
                spec["path"] = str(config.resolve_path(spec["path"]).resolve())
    return snapshot


def environment() -> dict[str, Any]:
    """Versions and hardware, for the report's reproducibility section."""
    from importlib import metadata

    versions = {}
    for package in ("torch", "transformers", "peft", "lm_eval", "datasets", "accelerate", "pluggy", "pydantic"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    env: dict[str, Any] = {"harness": __version__, "python": platform.python_version(),
                           "platform": platform.platform(), "packages": versions}
    try:
        import torch

        env["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    except ImportError:
        pass
    return env


def run(config_path: str | Path | None, harness: Harness, run_dir: Path, *, resume: bool = False,
        progress: bool = True, overrides: list[str] | None = None) -> dict[str, Any]:
    """Validate, then run the loop in ``run_dir``; with ``resume`` the folder's own config is used
    (``overrides``, ``--set KEY=VALUE`` pairs, are kept in it: the folder's config.yml is the config as run)."""
    folder = RunFolder(run_dir)
    if resume:
        if overrides:
            raise UsageError("--set with --resume would change a run halfway; the run continues with the config "
                             f"it started with ({folder.config})")
        if not folder.config.is_file():
            raise UsageError(f"{run_dir}: not a run folder (no config.yml); nothing to resume")
        config = load_config(folder.config, harness)
    else:
        if config_path is None:
            raise UsageError("a config file is required unless --resume is given")
        if folder.root.exists() and any(folder.root.iterdir()):
            raise UsageError(f"{run_dir} already holds a run; use --resume to continue it, or choose another --run-dir")
        config = load_config(config_path, harness, parse_overrides(overrides))
    return Loop(config, harness, run_dir, progress=progress).run()
