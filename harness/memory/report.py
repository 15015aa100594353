"""A run config's memory plan as printed lines, and the message when it cannot fit.

``harness validate`` and the start of every training run print the same table:
one row per component, a column for DDP (each GPU holds everything) and, over
several GPUs, one for sharding (FSDP full-shard / ZeRO-3); the column the config
uses is the one checked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.memory.fixes import planned, ways_to_fit
from harness.memory.plan import GIB, MemoryPlan, Target, plan_memory
from harness.memory.reading import read_shape
from harness.memory.settings import plan_settings


@dataclass(frozen=True)
class PlanReport:
    """The printed plan, the plan itself (None when it cannot be made) and, when it does not fit, why."""

    lines: tuple[str, ...]
    plan: MemoryPlan | None
    problem: str | None = None

    @property
    def fits(self) -> bool:
        return self.problem is None


def plan_config(config: Any, target: Target) -> PlanReport:
    """Plan ``config`` on ``target``: the table to print, and what would make it fit if it does not."""
    reading = read_shape(config.base_model, config.resolve_path("."))
    if reading.shape is None:
        return PlanReport((f"memory plan: cannot be made: {reading.source}",), None)
    settings = plan_settings(config, target)
    if isinstance(settings, str):
        return PlanReport((f"memory plan: cannot be made: {settings}",), None)
    plan = plan_memory(reading.shape, settings, target)
    chosen = _auto_master_weights(config, plan)
    if chosen is not None:
        plan = chosen
    lines = [f"memory plan, per process (an estimate; shape from {reading.source}):", *_heading(plan),
             *_table(plan)]
    if chosen is not None:
        lines.append("  note       : master_weights: auto chose bfloat16 (float32 weights and gradients would not "
                     "fit; the update stays exact: float32 moments, stochastic rounding)")
    if plan.fits:
        lines.append(f"  fits       : yes, {plan.resident_bytes / GIB:.1f} of {target.memory_gib:.1f} GiB")
        return PlanReport(tuple(lines), plan)
    need = f"{plan.resident_bytes / GIB:.1f} GiB per {'GPU' if target.kind == 'cuda' else 'process'}"
    lines.append(f"  fits       : no, {need}; {target.describe()}")
    fixes, together = ways_to_fit(plan)
    advice = [f"{fix.change} ({fix.plan.resident_bytes / GIB:.1f} GiB{', fits' if fix.plan.fits else ''})"
              for fix in fixes]
    if together is not None:
        advice.append(f"together: {together.change} ({together.plan.resident_bytes / GIB:.1f} GiB, fits)")
    lines += [f"  would fit  : {item}" if i == 0 else f"               {item}" for i, item in enumerate(advice)]
    problem = (f"{config.base_model} with {settings.label} needs about {need}, more than {target.describe()}; "
               f"what would help, most saving first: {'; '.join(advice) or 'nothing this plan knows'}")
    return PlanReport(tuple(lines), plan, problem)


def _auto_master_weights(config: Any, plan: MemoryPlan) -> MemoryPlan | None:
    """``master_weights: auto``'s choice: the bf16 plan where float32 would not fit and bf16 does.

    Only for full fine-tuning under bf16 autocast: bf16 weights need bf16 compute.
    """
    if plan.fits or not plan.settings.master_auto:
        return None
    lean = planned(plan, plan.settings)
    return lean if lean.settings.master_weights == "bf16" else None


def master_weights_for(config: Any, target: Target) -> str:
    """The dtype full fine-tuning keeps its weights in on ``target``: the config's, or auto's choice."""
    chosen = getattr(config, "master_weights", "auto")
    if chosen != "auto":
        return chosen
    report = plan_config(config, target)
    planned = report.plan.settings.master_weights if report.plan is not None else "fp32"
    return "bfloat16" if planned == "bf16" else "float32"


def _heading(plan: MemoryPlan) -> list[str]:
    shape, settings = plan.shape, plan.settings
    precision = f"{settings.compute} autocast" if settings.compute != "fp32" else "fp32 (no autocast)"
    return [
        f"  model      : {shape.family}, {plan.parameters / 1e9:.2f} B parameters ({plan.parameters:,}), "
        f"{shape.layers} layers, hidden {shape.hidden}, vocabulary {shape.vocab:,}",
        f"  training   : {settings.label}, {precision}, {settings.optimizer}, "
        f"gradient checkpointing {'on' if settings.gradient_checkpointing else 'off'}",
        f"  trainable  : {plan.trainable / 1e9:.3f} B ({plan.trainable:,}, "
        f"{plan.trainable / plan.parameters:.2%})",
        f"  target     : {plan.target.describe()}",
    ]


def _table(plan: MemoryPlan) -> list[str]:
    processes = plan.processes
    plans = [plan]
    if processes > 1 or plan.settings.sharded:
        other = plan_memory(plan.shape, replace(plan.settings, sharded=not plan.settings.sharded), plan.target)
        plans = sorted([plan, other], key=lambda p: p.settings.sharded)
    names = list(dict.fromkeys(line.component for line in plans[-1].lines))  # sharded (or only) first
    for line in plans[0].lines:  # DDP's own lines, in place: before the activations
        if line.component not in names:
            names.insert(names.index("activations, checkpointed"), line.component)
    heads = [("sharded" if p.settings.sharded else "DDP" if processes > 1 else "1 GPU"
              if plan.target.kind == "cuda" else "1 process") + (" *" if p is plan and len(plans) > 1 else "")
             for p in plans]
    rows = [f"  {'component (GiB)':<32}" + "".join(f"{head:>13}" for head in heads)]
    for name in names:
        cells, detail = [], ""
        for p in plans:
            line = next((line for line in p.lines if line.component == name), None)
            if line is None:
                cells.append("-")
            else:
                cells.append(f"{line.gib:.2f}" if line.counted else f"({line.gib:.2f})")
                detail = detail or line.detail
        rows.append(f"  {name:<32}" + "".join(f"{cell:>13}" for cell in cells) + f"   {detail}")
    rows.append(f"  {'total':<32}" + "".join(f"{p.total_gib:>13.2f}" for p in plans)
                + ("   * the config's choice" if len(plans) > 1 else ""))
    return rows
