"""Replay weighted by what the last round forgot.

A general source that rehearses a benchmark (or one of its groups) gets, for the
next round, its configured weight times ``1 + strength * max(0, F) / threshold``,
where ``F`` is the largest relative forgetting (percent) the last round measured on
anything the source rehearses. So with ``strength: 1`` a source whose benchmark
forgot exactly at the threshold counts double, and one at twice the threshold
triple; a benchmark that held or improved leaves its sources as configured. The
total general share is the round's as before: only how it is split changes.
"""

from __future__ import annotations

from typing import Any

from harness import DataSource, MixContext, UsageError

from .common import log


def severity_weights(general: list[DataSource], context: MixContext, strength: float,
                     ) -> tuple[list[float], dict[str, dict[str, Any]]]:
    """Each source's weight for this round, and per source why (for the manifest)."""
    if context.forgetting and context.threshold is None:
        raise UsageError("weighting by forgetting needs the run's forgetting threshold; this caller gave none")
    weights, why = [], {}
    for source in general:
        measured = {key: context.forgetting[key] for key in source.rehearses if key in context.forgetting}
        worst = max(measured.values(), default=0.0)
        factor = 1 + strength * max(0.0, worst) / context.threshold if measured else 1.0  # type: ignore[operator]
        weights.append(source.weight * factor)
        unmeasured = [key for key in source.rehearses if key not in measured]
        if context.forgetting and unmeasured:
            log.warning("%s rehearses %s, which the last round did not measure (measured: %s)", source.name,
                        ", ".join(unmeasured), ", ".join(sorted(context.forgetting)))
        if not source.rehearses:
            reason = "rehearses nothing named: configured weight"
        elif not context.forgetting:
            reason = "nothing measured yet (first round): configured weight"
        elif not measured:
            reason = "nothing it rehearses was measured last round: configured weight"
        else:
            key = max(measured, key=measured.__getitem__)
            reason = (f"{key} forgot {worst:.2f}% (threshold {context.threshold:g}%): "
                      f"configured weight x {factor:.3f}" if worst > 0 else f"{key} did not forget: configured weight")
        why[source.name] = {"rehearses": list(source.rehearses), "forgetting": measured,
                            "unmeasured": unmeasured,
                            "configured_weight": source.weight, "factor": round(factor, 6),
                            "weight": round(source.weight * factor, 6), "reason": reason}
    return weights, why
