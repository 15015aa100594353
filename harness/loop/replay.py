"""What the loop tells a mixer besides the data: what the last round forgot, and which
texts the run evaluates (so none of them is trained on).

Both come from the benchmarks' optional ``item_details``: a group per item gives
forgetting per ``benchmark/group`` (an MMLU subject), a text per item the
decontamination index. Details are read once per run, for every item a verdict may
score, and only from benchmarks that implement them.
"""

from __future__ import annotations

import math
from typing import Sequence

from harness.components import Benchmark
from harness.records import EvaluationRecord, ItemDetail, ItemScore
from harness.data.decontamination import EvaluatedTexts
from harness.evaluation.judging import JudgeSettings
from harness.evaluation.scoring import take_items

# A group's forgetting is shrunk toward its benchmark's with the weight of this many
# items, so a subject measured on three questions cannot swing the next round's mix.
GROUP_PRIOR_ITEMS = 20

Details = dict[str, dict[str, ItemDetail]]  # benchmark name -> item id -> detail


def read_details(general: Sequence[Benchmark], domain: Sequence[Benchmark], settings: JudgeSettings) -> Details:
    """Every benchmark's details for all items a verdict of this run may score."""
    details: Details = {}
    for role, benchmarks in (("general", general), ("domain", domain)):
        for benchmark in benchmarks:
            if type(benchmark).item_details is Benchmark.item_details:
                continue  # not implemented: listing its items would cost time for nothing
            ids = take_items(benchmark, settings.most_items(benchmark, general=role == "general"), settings.seed)
            details[benchmark.name] = benchmark.item_details(ids)
    return details


def evaluated_texts(details: Details) -> EvaluatedTexts:
    """The decontamination index over every detail's text."""
    return EvaluatedTexts(d.text for items in details.values() for d in items.values() if d.text)


def measured_forgetting(evaluation: EvaluationRecord, details: Details) -> dict[str, float]:
    """Relative forgetting (percent, positive = worse) per informative general benchmark, and
    per ``benchmark/group`` where its items have groups."""
    measured: dict[str, float] = {}
    for name, comparison in evaluation.forgetting.items():
        if comparison.status == "uninformative" or not math.isfinite(comparison.relative):
            continue  # at chance for this model (its "forgetting" is noise), or undefined
        measured[name] = comparison.relative
        base = {item.item_id: item for item in evaluation.base[name].items}
        groups: dict[str, list[tuple[ItemScore, ItemScore]]] = {}
        for item in evaluation.candidate[name].items:
            detail = details.get(name, {}).get(item.item_id)
            if detail is not None and detail.group and item.item_id in base:
                groups.setdefault(detail.group, []).append((base[item.item_id], item))
        for group, pairs in groups.items():
            own = _relative(pairs, comparison.higher_is_better, comparison.relative_to == "above_chance")
            n = len(pairs) if own is not None else 0
            measured[f"{name}/{group}"] = (n * (own or 0.0) + GROUP_PRIOR_ITEMS * comparison.relative) / (
                n + GROUP_PRIOR_ITEMS)
    return measured


def _relative(pairs: list[tuple[ItemScore, ItemScore]], higher_is_better: bool, above_chance: bool) -> float | None:
    """The benchmark's own measure on a subset of its items; None where it is undefined."""
    base = sum(b.score for b, _ in pairs) / len(pairs)
    candidate = sum(c.score for _, c in pairs) / len(pairs)
    scale = abs(base)
    if above_chance:
        chances = [b.chance for b, _ in pairs]
        if all(c is not None for c in chances):
            scale = base - sum(chances) / len(chances)  # type: ignore[arg-type]
    if scale <= 0:
        return None
    worse = base - candidate if higher_is_better else candidate - base
    return 100 * worse / scale
