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
import time
from pathlib import Path
from typing import Any, Iterator

import yaml


from harness.evaluation import breakdown, judging

from harness.components import DecisionContext
from harness.errors import UsageError
from harness.records import (
    Action,
    BenchmarkResult,
    EvaluationRecord,
    LoadedModel,
    MixContext,
    MixResult,
    NextRound,
    RoundOutcome,
    RoundPlan,
    TrainingRecord,
    TrainRequest,
)
from harness.config import RunConfig
from harness.resolve.config_file import load_config, parse_overrides
from harness.data.decontamination import EvaluatedTexts
from harness.evaluation.scoring import Scorer, take_items
from harness.models.loading import cache_root
from harness.plugins import Harness
from harness.progress import say, stage_bar
from harness.loop import early_warning, replay
from harness.loop.evaluation_io import comparisons_json, load_evaluation, point_json
from harness.loop.round_artifacts import config_snapshot, data_stats, describe_plan, round_summary, sample_generations
from harness.loop.verdict_file import assemble_verdict
from harness.resolve import resolve
from harness.resolve.run_data import RunData, prepare_data
from harness.loop.ranks import train_on_all_ranks
from harness.loop.rundir import RoundFolder, RunFolder, read_json, write_atomic, write_json

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- loop


class Loop:
    """One run of the loop over a run folder; ``resume`` picks up where a crash left off."""

    def __init__(self, config: RunConfig, harness: Harness, run_dir: Path, *, progress: bool = True) -> None:
        self.config = config
        self.harness = harness
        self.folder = RunFolder(run_dir)
        self.progress = progress
        resolved = resolve(config, harness)
        self.components = resolved.components
        self.judging = resolved.judging
        for note in [*resolved.notes, *resolved.warnings]:
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

    def _judge_round(self, base: Scorer, candidate: Scorer, *, say: Any = lambda _m: None,
               earlier: EvaluationRecord | None = None) -> EvaluationRecord:
        """Forgetting on every general benchmark and gain on every domain one, paired, under the run's policy.

        ``earlier``: the interpolation probe judged before this one (the same update at another
        scale); base-assisted sampling looks first where it changed items.
        """
        settings = self.judging
        judgement = judging.judge(base, candidate, self.components.general, self.components.domain, settings,
                                  say=say, earlier=earlier.candidate if earlier is not None else None)
        return EvaluationRecord(base=judgement.base, candidate=judgement.candidate, forgetting=judgement.forgetting,
                                gain=judgement.gain, passed=judgement.verdict.passed, policy=settings.policy,
                                threshold=settings.threshold, status=judgement.verdict.status,
                                reasons=judgement.verdict.reasons, method=settings.method())

    def _breakdown(self, record: EvaluationRecord) -> dict[str, Any]:
        """Where the round forgot: per-group comparisons and flipped items of every benchmark (a report, not a verdict)."""
        return breakdown.round_breakdown([*self.components.general, *self.components.domain], record.base,
                                         record.candidate, confidence=self.judging.confidence,
                                         samples=self.judging.bootstrap_samples, seed=self.judging.seed)

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
                self._say(f"round {index}: already complete on disk ({describe_plan(outcome.plan)}); "
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
        verdict = assemble_verdict(history, self.folder, self.config, self.judging, time.perf_counter() - started,
                                   self.timings)
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
        settings = self.judging
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
        self._say(f"round {plan.index}: {describe_plan(plan)}")
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
            evaluation = self._judge_round(self.base_scorer(), scorer, say=self._say)
        self._add_time("evaluate rounds", start)
        start = time.perf_counter()
        write_json(files.samples, sample_generations(self.config, data, candidate, self.base_model,
                                                     self.folder.base_samples))
        self._add_time("sample generations", start)
        del candidate, scorer
        self.folder.save_results(files.eval, evaluation.candidate)
        self.folder.save_results(files.base_eval, evaluation.base)
        write_json(files.forgetting, comparisons_json(evaluation))
        write_json(files.breakdown, self._breakdown(evaluation))
        hook.harness_after_evaluate(plan=plan, evaluation=evaluation)
        self._say(round_summary(plan, evaluation))

        outcome = RoundOutcome(plan, evaluation)
        probe = self._scale_probe(plan, weights, evaluation) if plan.trained else None
        decision = hook.harness_next_round(
            context=DecisionContext(config=self.config, history=[*history, outcome], policy=self.components.policy,
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
            config=self.config, train=mixed.examples, validation=data.validation, output_dir=train_dir,
            general=general_examples, resume=train_dir.exists(), learning_rate=plan.learning_rate, plan=plan,
            on_evaluate=(early_warning.drift_check(self.config, data.validation, data.general, mixed.examples,
                                                     self.base_model, self._say) if self._trains() else None),
        )
        # Under a launcher the other ranks wait for this job, and train it with this one.
        training: TrainingRecord = train_on_all_ranks(self.config.trainer, request, self.components.trainer.train)
        self._add_time("train", start)
        write_json(files.training, training)
        hook.harness_after_train(plan=plan, training=training)
        choice = early_warning.checkpoint_choice(self.config.forgetting, training)
        write_json(files.checkpoint_choice, choice)
        if choice["step"] != training.steps:
            self._say(f"checkpoint: {choice['reason']}")
        return Path(choice["weights"]), training.is_adapter

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
        write_json(files.data_stats, data_stats(self.config, mixed.examples,
                                                        self._base.tokenizer if self._base is not None else None))
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
                latest = self._judge_round(self.base_scorer(), scorer, earlier=latest)
            return latest

        return ScaleProbe(build, judge_at, files.interpolation, files.interpolation_probes,
                          describe=point_json, say=self._say)

    def _interpolated_weights(self, plan: RoundPlan, files: RoundFolder) -> tuple[Path, bool]:
        """An interpolation round's weights: the source round's at ``plan.scale``, saved in plain form."""
        assert plan.scale is not None and plan.source_round is not None
        start = time.perf_counter()
        interpolation = self._interpolation(plan.source_round)
        folder = interpolation.save(plan.scale, files.weights)
        self._add_time("interpolation search", start)
        write_json(files.checkpoint_choice, {"choice": "interpolate", "weights": str(folder), "scale": plan.scale,
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
                                                     self.judging)
        return self._item_details

    def _evaluated(self) -> EvaluatedTexts:
        """The texts of every item this run may evaluate, which no training mix may hold."""
        if self._evaluated_texts is None:
            self._evaluated_texts = replay.evaluated_texts(self._details())
        return self._evaluated_texts

    def _candidate(self, weights: Path, is_adapter: bool) -> LoadedModel:
        from harness.models.adapters import merge_adapter
        from harness.models.loading import load_model

        if is_adapter:
            return merge_adapter(self.base_model(), weights)
        return load_model(str(weights), device=self.config.device, dtype=self.config.dtype,
                          model_type=self.config.model_type, fingerprint=False)


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
