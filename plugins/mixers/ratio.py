"""The seed's strategy 1: a fixed share of general examples next to all the domain data."""

from __future__ import annotations

import random

from harness import ComponentOptions, DataSource, MixContext, Mixer, MixResult

from .common import blend, capped, decontaminate, general_count, manifest, require_answers, shortfall


class RatioMixer(Mixer):
    """For ``n`` domain examples and share ``r``, add ``int(n*r/(1-r))`` general examples.

    General examples are drawn without replacement from all general sources
    pooled (each first capped at its ``max_samples``), then everything is
    shuffled with the seed.
    """

    name = "ratio"
    summary = "all domain data + int(n*r/(1-r)) general examples sampled without replacement"

    class Options(ComponentOptions):
        allow_shortfall: bool = False  # too little general data: use all of it instead of failing

    def mix(self, domain: DataSource, general: list[DataSource], context: MixContext) -> MixResult:
        for source in general:
            require_answers(source, self.name)
        domain, general, decontamination = decontaminate(domain, general, context)
        pool = []
        for source in general:
            pool += [(source.name, example) for example in capped(source, context.seed)]
        needed = general_count(len(domain.examples), context.general_share)
        shortfall(self.name, needed, len(pool), self.options.allow_shortfall, "the general data")
        picked = random.Random(context.seed).sample(pool, min(needed, len(pool)))
        counts = {source.name: 0 for source in general}
        for name, _ in picked:
            counts[name] += 1
        examples = blend(domain.examples, [example for _, example in picked], context.seed)
        return MixResult(examples, manifest(self.name, len(domain.examples), counts, needed,
                                            context.general_share, context.seed, general_pool=len(pool),
                                            decontamination=decontamination))
