"""The run's verdict file, assembled from its rounds: what ``harness gate``, reports and trackers read."""

from __future__ import annotations

import platform
from typing import Any

from harness import __version__
from harness.config import RunConfig
from harness.evaluation import stats
from harness.evaluation.judging import JudgeSettings
from harness.loop.evaluation_io import comparisons_json
from harness.loop.rundir import RunFolder
from harness.records import RoundOutcome
from harness.run_record import VERDICT_SCHEMA, validate_verdict


def assemble_verdict(history: list[RoundOutcome], folder: RunFolder, config: RunConfig, judging: JudgeSettings,
                     seconds: float, timings: dict[str, float]) -> dict[str, Any]:
    """``verdict.json``: every round's numbers, the round chosen and why, how it was judged, where it ran.

    A passing round with the best domain gain is chosen; with none passing, the round
    that forgot least (and it says whether that round is undecided rather than failed).
    """
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
            "weights": (folder.round(outcome.plan.index).read("checkpoint_choice") or {}).get("weights"),
            "passed": evaluation.passed,
            "worst_forgetting": evaluation.worst_forgetting(),
            "domain_score": domain_score,
            "domain_gain": domain_gain,
            **comparisons_json(evaluation),
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
    verdict = {
        "schema": VERDICT_SCHEMA,
        "passed": bool(passing),
        "status": "pass" if passing else chosen["status"],
        "threshold": config.forgetting.threshold,
        "policy": config.forgetting.policy,
        "judging": judging.as_dict(),
        "chosen_round": chosen["round"],
        "reason": why,
        "base_model": config.base_model,
        "trainer": config.trainer.name,
        "rounds": rounds,
        "seconds": round(seconds, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "environment": environment(),
    }
    # Through the typed record before it is written: a field missing or mistyped fails the run's
    # last step here, not a reader (the gate, a report) later. The dict is what is written, in the
    # order built here.
    validate_verdict(verdict, "the run's verdict")
    return verdict


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
