"""Arithmetic and bookkeeping shared by the built-in mixers."""

from __future__ import annotations

import dataclasses
import logging
import random
from fractions import Fraction
from typing import Any, Sequence

from harness import DataSource, Example, MixContext, UsageError

log = logging.getLogger("harness.mixers")


def general_count(domain_size: int, share: float) -> int:
    """The seed's ``int(n * r / (1 - r))``, in exact arithmetic.

    Floats would give 624 instead of 625 for some (n, r); reading ``r`` as the
    decimal the user wrote keeps the seed's intended count.
    """
    if not 0 <= share < 1:
        raise UsageError(f"general share must be in [0, 1), got {share}")
    r = Fraction(str(share))
    return int(domain_size * r / (1 - r))


def decontaminate(domain: DataSource, general: list[DataSource], context: MixContext,
                  ) -> tuple[DataSource, list[DataSource], dict[str, Any]]:
    """Every source without its examples that contain an evaluated item's text, and the
    manifest entry saying what was dropped (``harness.data.decontamination`` has the rule)."""
    evaluated = context.evaluated
    if evaluated is None:
        return domain, general, {"checked": False, "reason": "the caller gave no evaluated item texts"}
    dropped: dict[str, int] = {}
    origins: list[str] = []

    def clean(source: DataSource) -> DataSource:
        bad = [e for e in source.examples if evaluated.contaminates(e)]
        dropped[source.name] = len(bad)
        if not bad:
            return source
        origins.extend(e.origin for e in bad[: 10 - len(origins)])  # a few, for the manifest
        log.warning("%s: dropped %d example(s) holding an evaluated item's text (first: %s)",
                    source.name, len(bad), bad[0].origin)
        contaminated = set(bad)
        return dataclasses.replace(source, examples=[e for e in source.examples if e not in contaminated])

    domain, general = clean(domain), [clean(source) for source in general]
    return domain, general, {
        "checked": True, "rule": evaluated.rule(), "evaluated_items": evaluated.items,
        "unchecked_items": evaluated.unchecked, "dropped": sum(dropped.values()),
        "dropped_by_source": dropped, "dropped_examples": origins,
    }


def capped(source: DataSource, seed: int) -> list[Example]:
    """A source's examples, sampled down to its ``max_samples`` (deterministic by seed)."""
    if source.max_samples is None or source.max_samples >= len(source.examples):
        return list(source.examples)
    return random.Random(f"{seed}:{source.name}").sample(source.examples, source.max_samples)


def require_answers(source: DataSource, mixer: str) -> None:
    """General data for a mixer that does not generate answers must already hold them."""
    unanswered = [e for e in source.examples if e.is_chat and e.messages[-1].role != "assistant"]
    if unanswered:
        raise UsageError(
            f"the {mixer} mixer needs general examples with answers, but {source.name!r} has "
            f"{len(unanswered)} that end without an assistant turn (first: {unanswered[0].origin}); "
            f"prompt sets go with the self_rehearsal mixer"
        )


def shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: round(100 * n / total, 2) if total else 0.0 for name, n in counts.items()}


def blend(domain: Sequence[Example], general: Sequence[Example], seed: int) -> list[Example]:
    """Domain and general examples together, shuffled with the seed."""
    mixed = list(domain) + list(general)
    random.Random(seed).shuffle(mixed)
    return mixed


def shortfall(mixer: str, needed: int, available: int, allow: bool, what: str) -> None:
    if available >= needed:
        return
    message = (f"the {mixer} mixer needs {needed} general examples but {what} holds only {available}")
    if not allow:
        raise UsageError(message + "; add general data, lower the general share, or set allow_shortfall: true")
    log.warning("%s; using all %d (the manifest records the realised share)", message, available)


def manifest(mixer: str, domain: int, general: dict[str, int], requested: int, share: float,
             seed: int, **extra: Any) -> dict[str, Any]:
    """The realised counts and percentages a mixer reports."""
    total = domain + sum(general.values())
    return {
        "mixer": mixer,
        "seed": seed,
        "requested_general_share": share,
        "requested_general": requested,
        "domain": domain,
        "general": sum(general.values()),
        "general_by_source": general,
        "total": total,
        "domain_percent": round(100 * domain / total, 2) if total else 0.0,
        "general_percent": round(100 * sum(general.values()) / total, 2) if total else 0.0,
        **extra,
    }
