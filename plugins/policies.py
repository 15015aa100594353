"""Retrain policies: what the loop does after a round that forgot too much.

``schedule`` is the seed's pipeline: 20% general data, then 30%, then 40%, stop
at the first round that passes. A round undecided only for want of evidence
(nothing failed, every undecided estimate under the threshold) stops too: it has
not passed, and more general data would not decide it. ``adaptive`` reads the forgetting measured so far
and jumps to the share predicted to pass, so it needs fewer rounds. Either can
also lower the learning rate (the seed's strategy 4) once mixing alone is
exhausted. ``interpolate`` first moves a failed round's weights back toward the
base (no training) and hands over to another policy (``then``) only when no
step along that path passes. The default ``harness_next_round`` defers to the
configured policy; a plugin that implements that hook itself replaces the
decision wholesale.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from harness import Action, ComponentOptions, DecisionContext, NextRound, Policy
from harness.helpers import bisect_scale, choose_scale
from harness.hookspecs import hookimpl


class LowerLrOptions(ComponentOptions):
    lower_lr_when_exhausted: bool = False  # then keep the last share and scale the LR down
    lr_factor: float = Field(0.5, gt=0, lt=1)
    min_learning_rate: float = Field(5e-5, gt=0)


def _stop_if_done(context: DecisionContext) -> NextRound | None:
    """The verdicts every policy shares: stop on a pass, on a shortage of evidence, or when out of rounds."""
    last = context.history[-1]
    if last.evaluation.passed:
        return NextRound(Action.STOP, f"round {last.plan.index} passed: worst forgetting "
                                      f"{last.evaluation.worst_forgetting():.2f}% < {context.threshold}%")
    leaning = _leaning_fail(last.evaluation)
    if last.evaluation.status == "undecided" and not leaning:
        # Nothing failed and every undecided estimate is under the threshold: what is
        # missing is evidence, and more general data in training cannot supply it.
        return NextRound(Action.STOP, f"round {last.plan.index} undecided, leaning pass (not passed): "
                                      + "; ".join(last.evaluation.reasons)
                                      + ". Retraining cannot settle a shortage of evidence; "
                                        "raise benchmarks.max_items to decide it")
    if context.trained_rounds >= context.config.mitigation.max_rounds:
        return NextRound(Action.STOP, f"{_why_not_passed(context)}; reached "
                                      f"max_rounds={context.config.mitigation.max_rounds}")
    return None


def _leaning_fail(evaluation) -> list[str]:
    """General benchmarks decided fail, or undecided with an estimate at or over the threshold."""
    return [name for name, c in evaluation.forgetting.items()
            if c.status == "fail" or (c.status == "undecided" and c.relative >= evaluation.threshold)]


def _why_not_passed(context: DecisionContext) -> str:
    """The last round's failure in one phrase: forgot too much, or could not be decided."""
    evaluation = context.history[-1].evaluation
    if evaluation.status == "undecided":
        return "round undecided, so not passed (" + "; ".join(evaluation.reasons) + ")"
    return f"worst forgetting {evaluation.worst_forgetting():.2f}% >= {context.threshold}%"


def _lower_lr(context: DecisionContext, options: LowerLrOptions, why: str) -> NextRound:
    last = context.history[-1].plan
    new_lr = last.learning_rate * options.lr_factor
    if options.lower_lr_when_exhausted and new_lr >= options.min_learning_rate * (1 - 1e-9):
        return NextRound(Action.RETRAIN, f"{why}; lowering the learning rate {last.learning_rate:g} -> {new_lr:g}",
                         general_share=last.general_share, learning_rate=new_lr)
    return NextRound(Action.STOP, why)


class SchedulePolicy(Policy):
    name = "schedule"
    summary = "The seed's escalation: the next general share of mitigation.schedule until a round passes."
    Options = LowerLrOptions

    def decide(self, context: DecisionContext) -> NextRound:
        done = _stop_if_done(context)
        if done:
            return done
        schedule = context.config.mitigation.schedule
        tried = context.trained_rounds
        if tried < len(schedule):
            share = schedule[tried]
            return NextRound(Action.RETRAIN, f"{_why_not_passed(context)}: next share in the schedule is {share:.0%}",
                             general_share=share, learning_rate=context.history[-1].plan.learning_rate)
        return _lower_lr(context, self.options, f"schedule {schedule} exhausted")  # type: ignore[arg-type]


class AdaptiveOptions(LowerLrOptions):
    target_fraction: float = Field(0.8, gt=0, le=1)  # aim below the threshold by this margin
    max_share: float = Field(0.6, gt=0, lt=1)
    step: float = Field(0.05, gt=0, lt=1)  # shares are rounded up to this grid


class AdaptivePolicy(Policy):
    name = "adaptive"
    summary = "Fits forgetting against general share from the rounds so far and jumps to the share predicted to pass."
    Options = AdaptiveOptions

    def decide(self, context: DecisionContext) -> NextRound:
        done = _stop_if_done(context)
        if done:
            return done
        options: AdaptiveOptions = self.options  # type: ignore[assignment]
        points = [(o.plan.general_share, o.evaluation.worst_forgetting()) for o in context.history if o.plan.trained]
        last_share = points[-1][0]
        target = context.threshold * options.target_fraction
        predicted = self._share_for(points, target)
        share = min(options.max_share, math.ceil(round(predicted / options.step, 6)) * options.step)
        if share <= last_share + 1e-9:
            if last_share + 1e-9 >= options.max_share:
                return _lower_lr(context, options, f"general share already at max_share={options.max_share:.0%}")
            share = min(options.max_share, last_share + options.step)
        return NextRound(Action.RETRAIN, f"forgetting so far {', '.join(f'{s:.0%}: {f:.2f}%' for s, f in points)};"
                         f" predicted to reach {target:.2f}% at share {predicted:.0%}: trying {share:.0%}",
                         general_share=round(share, 6), learning_rate=context.history[-1].plan.learning_rate)

    @staticmethod
    def _share_for(points: list[tuple[float, float]], target: float) -> float:
        """The general share at which forgetting is predicted to fall to ``target``.

        With two or more rounds: a straight line through the last two points. With
        one: forgetting is taken as proportional to the domain fraction (1 - share),
        since general data dilutes the domain gradient roughly in proportion.
        """
        if len(points) >= 2 and abs(points[-1][0] - points[-2][0]) > 1e-9:
            (s1, f1), (s2, f2) = points[-2], points[-1]
            slope = (f2 - f1) / (s2 - s1)
            if slope < 0:
                return s2 + (target - f2) / slope
        share, forgetting = points[-1]
        if forgetting <= 0:
            return share
        # forgetting(s) = forgetting * (1 - s) / (1 - share)  ->  solve for target
        return 1 - (1 - share) * target / forgetting


class InterpolateOptions(ComponentOptions):
    steps: int = Field(4, ge=1, le=12)  # probes of the bisection: the boundary to within 2**-steps
    min_scale: float = Field(0.1, ge=0, lt=1)  # below this little of the domain gain is left; retrain instead
    choose: Literal["largest_scale", "best_domain"] = "largest_scale"
    then: str | None = "schedule"  # the policy that decides when no scale passes (None: stop)
    then_options: dict[str, Any] = Field(default_factory=dict)


class InterpolatePolicy(Policy):
    name = "interpolate"
    summary = ("After a failed round, bisects the scale s of θ_base + s·ΔW for the largest s that passes "
               "(evaluation only, no training); hands over to `then` when none does.")
    Options = InterpolateOptions

    def decide(self, context: DecisionContext) -> NextRound:
        options: InterpolateOptions = self.options  # type: ignore[assignment]
        last = context.history[-1]
        if last.evaluation.passed:
            return NextRound(Action.STOP, f"round {last.plan.index} passed: worst forgetting "
                                          f"{last.evaluation.worst_forgetting():.2f}% < {context.threshold}%")
        # Undecided rounds too: nearer the base forgetting shrinks, so a decided pass may lie
        # a little way back along the path, where retraining could not settle anything.
        if last.plan.trained and context.scale_probe is not None:
            points = bisect_scale(context.scale_probe, steps=options.steps, min_scale=options.min_scale)
            chosen = choose_scale(points, options.choose)
            tried = ", ".join(f"s={p.scale:g} {p.evaluation.status or ('pass' if p.passed else 'fail')}"
                              for p in points)
            if chosen is not None:
                return NextRound(Action.INTERPOLATE,
                                 f"{_why_not_passed(context)}; interpolating toward the base ({tried}): "
                                 f"s={chosen.scale:g} passes with domain gain {chosen.domain_gain:+.1f}%",
                                 general_share=last.plan.general_share, learning_rate=last.plan.learning_rate,
                                 scale=chosen.scale)
            why = f"no scale down to {min(p.scale for p in points) if points else 1:g} passes ({tried})"
        else:
            why = "nothing to interpolate"
        if self.then is None:
            done = _stop_if_done(context)
            return done or NextRound(Action.STOP, f"{_why_not_passed(context)}; {why}; no `then` policy")
        decision = self.then.decide(context)
        decision.reason = f"{why}; {self.then.name}: {decision.reason}"
        return decision


@hookimpl
def harness_register_policies(register):
    register(SchedulePolicy)
    register(AdaptivePolicy)
    register(InterpolatePolicy)


@hookimpl(trylast=True)
def harness_next_round(context: DecisionContext) -> NextRound:
    return context.policy.decide(context)
