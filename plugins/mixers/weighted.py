"""The seed's strategy 2: several general sources, each with a ``weight`` and ``max_samples``."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Literal

from pydantic import Field, model_validator

from harness import ComponentOptions, DataSource, MixContext, Mixer, MixResult, UsageError

from .common import blend, capped, decontaminate, general_count, log, manifest, require_answers
from .severity import severity_weights


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties go to the earlier source)."""
    exact = [Fraction(str(w)) * total / sum(Fraction(str(x)) for x in weights) for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class WeightedMixer(Mixer):
    """Sample each general source in proportion to its weight, never past its ``max_samples``.

    ``shares: context`` (default) sizes the general part with the round's general
    share (so the retrain loop can raise it) and splits it by the general
    sources' weights. ``shares: weights`` takes every weight as written, the
    domain's included, as the seed's Axolotl config does (domain 0.8, OpenOrca
    0.15, guanaco 0.05), and ignores the round's share.
    A source capped by ``max_samples`` or by its size is not topped up from the
    others; the manifest shows the realised shares.

    ``by_forgetting: true`` splits the general part by weights the last round's
    forgetting raised for the sources that rehearse what was forgotten (see
    ``severity``); the first round uses the configured weights.
    """

    name = "weighted"
    summary = "general sources sampled by weight, each capped at max_samples"

    class Options(ComponentOptions):
        shares: Literal["context", "weights"] = "context"
        by_forgetting: bool = False  # more of what the last round forgot (general_data's ``rehearses``)
        strength: float = Field(1.0, gt=0)  # weight x (1 + strength * forgetting / threshold)

        @model_validator(mode="after")
        def _strength_needs_by_forgetting(self) -> "WeightedMixer.Options":
            if "strength" in self.model_fields_set and not self.by_forgetting:
                raise ValueError("strength only applies with by_forgetting: true")
            return self

    def reads_rehearses(self) -> bool:
        return self.options.by_forgetting

    def mix(self, domain: DataSource, general: list[DataSource], context: MixContext) -> MixResult:
        if not general:
            raise UsageError("the weighted mixer needs at least one general data source")
        for source in general:
            require_answers(source, self.name)
        domain, general, decontamination = decontaminate(domain, general, context)
        domain_examples = capped(domain, context.seed)
        n = len(domain_examples)
        if self.options.shares == "context":
            wanted = general_count(n, context.general_share)
            share = context.general_share
        else:
            w_domain = Fraction(str(domain.weight))
            w_general = sum(Fraction(str(s.weight)) for s in general)
            wanted = int(n * w_general / w_domain)
            share = float(w_general / (w_domain + w_general))
        weights, severity = [s.weight for s in general], {}
        if self.options.by_forgetting:
            weights, why = severity_weights(general, context, self.options.strength)
            severity = {"by_forgetting": why, "strength": self.options.strength}
        targets = apportion(wanted, weights)
        counts, picked, capped_by = {}, [], {}
        for source, target in zip(general, targets):
            available = capped(source, context.seed)
            take = min(target, len(available))
            if take < target:
                capped_by[source.name] = {"target": target, "realised": take,
                                          "by": "max_samples" if source.max_samples is not None
                                          and source.max_samples < len(source.examples) else "size"}
                log.warning("weighted mixer: %s gives %d of its target %d examples", source.name, take, target)
            counts[source.name] = take
            picked += random.Random(f"{context.seed}:{source.name}:pick").sample(available, take)
        examples = blend(domain_examples, picked, context.seed)
        return MixResult(examples, manifest(
            self.name, n, counts, wanted, share, context.seed,
            shares_from=self.options.shares, weights={s.name: s.weight for s in general},
            weights_used={s.name: round(w, 6) for s, w in zip(general, weights)},
            **severity,
            targets=dict(zip((s.name for s in general), targets)), capped=capped_by,
            decontamination=decontamination,
        ))
