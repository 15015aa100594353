"""What would make a plan that does not fit fit: each change alone, in order of what it saves.

Each candidate changes one setting of the run and is planned again on the same
target; where no single change is enough, the biggest savings are combined until
the plan fits. More GPUs are counted: the fewest that fit when sharded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.memory.plan import OPTIMIZER_STATE, MemoryPlan, PlanSettings, plan_memory

MAX_GPUS = 64  # beyond one or two nodes the plan is not the thing to read


@dataclass(frozen=True)
class Fix:
    """One change to the config and the plan it gives."""

    change: str
    plan: MemoryPlan


def _candidates(plan: MemoryPlan) -> list[tuple[str, PlanSettings]]:
    settings, cuda = plan.settings, plan.target.kind == "cuda"
    found = []
    if settings.method == "full":
        base = settings.compute if settings.compute != "fp32" else "fp32"
        found.append(("trainer: lora" if not settings.ewc else "ewc base: lora",
                      replace(settings, method="lora", base_format=base)))
    if (settings.method == "full" and settings.master_weights == "fp32" and settings.compute == "bf16"
            and settings.bf16_master_available):
        found.append(("master_weights: bfloat16", replace(settings, master_weights="bf16")))
    if cuda and settings.base_format != "nf4":
        found.append(("adapter: qlora", replace(settings, method="lora", base_format="nf4")))
    per, _ = OPTIMIZER_STATE.get(settings.optimizer, (8.0, False))
    if cuda and per > 2 and settings.optimizer != "adafactor":
        found.append(("optimizer: adamw_bnb_8bit", replace(settings, optimizer="adamw_bnb_8bit")))
    if not settings.gradient_checkpointing:
        found.append(("gradient_checkpointing: true", replace(settings, gradient_checkpointing=True)))
    if settings.micro_batch_size > 1:
        found.append(("micro_batch_size: 1 (raise gradient_accumulation_steps to keep the batch)",
                      replace(settings, micro_batch_size=1)))
    return found


def _shorter_sequence(plan: MemoryPlan) -> Fix | None:
    length = plan.settings.sequence_len // 2
    while length >= 256:
        shorter = plan_memory(plan.shape, replace(plan.settings, sequence_len=length), plan.target)
        if shorter.fits:
            return Fix(f"sequence_len: {length}", shorter)
        length //= 2
    return None


def _more_gpus(plan: MemoryPlan) -> Fix | None:
    if plan.target.kind != "cuda":
        return None
    sharded = replace(plan.settings, sharded=True)
    for gpus in range(max(2, plan.processes + 1 if plan.settings.sharded else 2), MAX_GPUS + 1):
        spread = plan_memory(plan.shape, sharded, plan.target, processes=gpus)
        if spread.fits:
            how = "more GPUs" if plan.settings.sharded else "sharding (fsdp: [full_shard, auto_wrap], or ZeRO-3)"
            return Fix(f"{how} over {gpus} or more GPUs of {plan.target.memory_gib:g} GiB", spread)
    return None


def planned(plan: MemoryPlan, settings: PlanSettings) -> MemoryPlan:
    """``settings`` planned on ``plan``'s target, as the run would resolve ``master_weights: auto``:
    float32 where it fits, else bfloat16 where that does."""
    wide = plan_memory(plan.shape, settings, plan.target, plan.processes)
    if wide.fits or not settings.master_auto or settings.method != "full" or settings.master_weights == "bf16":
        return wide
    lean = plan_memory(plan.shape, replace(settings, master_weights="bf16"), plan.target, plan.processes)
    return lean if lean.fits else wide


def ways_to_fit(plan: MemoryPlan) -> tuple[list[Fix], Fix | None]:
    """Single changes, most saving first, and (when none fits alone) the combination that does."""
    fixes = [Fix(change + (" (master_weights: auto then bfloat16)" if p.settings.master_weights == "bf16"
                           and plan.settings.master_weights != "bf16" and "master_weights" not in change else ""), p)
             for change, settings in _candidates(plan) for p in [planned(plan, settings)]]
    for extra in (_more_gpus(plan), _shorter_sequence(plan)):
        if extra is not None:
            fixes.append(extra)
    fixes.sort(key=lambda fix: fix.plan.resident_bytes)
    if any(fix.plan.fits for fix in fixes):
        return fixes, None
    settings, changes = plan.settings, []
    for change, candidate in sorted(_candidates(plan), key=lambda c: plan_memory(plan.shape, c[1], plan.target,
                                                                               plan.processes).resident_bytes):
        settings = _merge(settings, candidate, plan.settings)
        changes.append(change)
        together = plan_memory(plan.shape, settings, plan.target, plan.processes)
        if together.fits:
            return fixes, Fix(" + ".join(changes), together)
    return fixes, None


def _merge(current: PlanSettings, candidate: PlanSettings, original: PlanSettings) -> PlanSettings:
    """``current`` with whatever ``candidate`` changed from ``original``."""
    changed = {name: getattr(candidate, name) for name in original.__dataclass_fields__
               if getattr(candidate, name) != getattr(original, name)}
    if current.base_format == "nf4":
        changed.pop("base_format", None)  # LoRA after QLoRA keeps the 4-bit base
    return replace(current, **changed)
