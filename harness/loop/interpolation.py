"""Search the path from a fine-tune back to its base for the largest step that passes the gate.

Forgetting grows with the interpolation scale s (0 = the base, 1 = the fine-tune)
in practice, so the largest passing s is found by bisection on the verdict
itself: s = 1 failed (that is why we are here), s = 0 is the base and forgets
nothing, and each probe halves the interval. A probe is judged like a round
(the run's verdict policy, the same items, the base's cached outcomes), so only
a *decided* pass counts; an undecided probe is treated as not passed, which
moves the search toward the base, where the verdict is easier to decide.

:class:`ScaleProbe` is the loop's side: it builds the weights at s, judges them
and writes every point to the round's ``interpolation.json`` as soon as it is
known, with the seconds it took (the report sets that cost beside a retrain).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from harness.records import EvaluationRecord, LoadedModel
from harness.evaluation.stats import gain_rank
from harness.files import write_atomic

Choice = Literal["largest_scale", "best_domain"]


@dataclass
class ScalePoint:
    """One probed scale and its judgement."""

    scale: float
    evaluation: EvaluationRecord

    @property
    def passed(self) -> bool:
        return self.evaluation.passed

    @property
    def domain_gain(self) -> float:
        return self.evaluation.domain_gain()


def bisect_scale(probe: Callable[[float], EvaluationRecord], *, steps: int, min_scale: float = 0.0) -> list[ScalePoint]:
    """Probe up to ``steps`` scales by bisection on (0, 1); every point probed, in order.

    Never probes below ``min_scale`` (so little of the update is left that the
    domain gain is gone too); s = 1 and s = 0 are known and not probed.
    """
    low, high = 0.0, 1.0
    points: list[ScalePoint] = []
    for _ in range(steps):
        scale = round((low + high) / 2, 6)
        if scale < min_scale:
            break
        point = ScalePoint(scale, probe(scale))
        points.append(point)
        if point.passed:
            low = scale
        else:
            high = scale
    return points


def choose_scale(points: list[ScalePoint], rule: Choice) -> ScalePoint | None:
    """The passing point to keep: the largest scale, or the best domain gain (ties: the larger scale)."""
    passing = [p for p in points if p.passed]
    if not passing:
        return None
    if rule == "best_domain":
        return max(passing, key=lambda p: (gain_rank(p.domain_gain), p.scale))
    return max(passing, key=lambda p: p.scale)


class ScaleProbe:
    """Judges one trained round's weights at scales toward the base, recording each point on disk.

    ``build(scale, folder)`` gives the model at ``scale`` (``folder``: where it may
    write the scaled adapter, kept so any probed point can be loaded later);
    ``judge(model, stage)`` scores it against the base under the run's verdict policy.
    """

    def __init__(self, build: Callable[[float, Path], LoadedModel],
                 judge: Callable[[LoadedModel, str], EvaluationRecord], record_file: Path, scratch: Path, *,
                 describe: Callable[[EvaluationRecord], dict[str, Any]],
                 say: Callable[[str], None] = lambda _m: None) -> None:
        self.build, self.judge, self.describe, self.say = build, judge, describe, say
        self.record_file, self.scratch = Path(record_file), Path(scratch)
        self.points: list[dict[str, Any]] = []
        self.seconds = 0.0

    def __call__(self, scale: float) -> EvaluationRecord:
        start = time.perf_counter()
        folder = self.scratch / f"s-{scale:g}"
        model = self.build(scale, folder)
        evaluation = self.judge(model, f"interpolation s={scale:g}")
        del model
        seconds = time.perf_counter() - start
        self.seconds += seconds
        self.points.append({"scale": scale, "seconds": round(seconds, 1),
                            "weights": str(folder) if folder.is_dir() else None, **self.describe(evaluation)})
        self.save()
        point = self.points[-1]
        self.say(f"  interpolation s={scale:g}: {point['status']}, worst forgetting {point['worst_forgetting']:.2f}%, "
                 f"domain gain {point['domain_gain']:+.1f}% ({seconds:.0f} s)")
        return evaluation

    def save(self, chosen: dict[str, Any] | None = None) -> None:
        import json

        record = {"points": self.points, "seconds": round(self.seconds, 1)}
        if chosen is not None:
            record["chosen"] = chosen
        write_atomic(self.record_file, json.dumps(record, indent=2, default=str))
