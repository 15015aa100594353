"""compare.json: every strategy's outcome against the shared base, read from the run folders alone.

The summary is plain data (schema ``harness.strategies.runner/1``) that every comparison
renderer starts from, so the HTML, Markdown and JSON always agree, and a
comparison can be re-summarised at any time without recomputing anything.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.loop.rundir import RunFolder, read_json
from harness.evaluation.stats import status_of

COMPARE_SCHEMA = "harness.strategies.runner/1"


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return sum(finite) / len(finite) if finite else None


def cell(c: dict[str, Any], role: str, threshold: float, policy: str) -> dict[str, Any]:
    """One benchmark for one strategy: score, change vs base in % (positive = better), CI, mark."""
    if role == "general":
        status = status_of(c, threshold, policy)
    else:
        status = c.get("status") or ("gain" if c["relative"] < 0 else "no gain")
    return {
        "n": c["n"],
        "score": _num(c["candidate"]),
        "change_pct": _num(-c["relative"]),
        "change_ci_pct": [_num(-c["relative_ci"]["high"]), _num(-c["relative_ci"]["low"])],
        "forgetting_pct": _num(c["relative"]),
        "p_value": _num(c["p_value"]),
        "status": status,
    }


def _training_cost(folder: RunFolder) -> dict[str, Any]:
    """Summed over every round the strategy trained (one, unless it asked for the loop)."""
    tokens, seconds, steps, rounds = 0, 0.0, 0, 0
    for index in folder.completed_rounds():
        path = folder.round(index).training
        if path.is_file():
            record = read_json(path)
            if record.get("interpolated"):  # an interpolation round trains nothing
                continue
            tokens += int(record.get("tokens") or 0)
            seconds += float(record.get("seconds") or 0.0)
            steps += int(record.get("steps") or 0)
            rounds += 1
    return {"rounds": rounds, "tokens": tokens, "train_seconds": round(seconds, 1), "steps": steps}


def _strategy(name: str, root: Path, overrides: dict[str, Any], trainer: str) -> dict[str, Any]:
    folder = RunFolder(root)
    entry: dict[str, Any] = {"name": name, "run_dir": str(root), "overrides": overrides, "trainer": trainer}
    if folder.verdict.is_file():
        verdict = read_json(folder.verdict)
        chosen = next(r for r in verdict["rounds"] if r["round"] == verdict["chosen_round"])
        entry.update(status="done", passed=verdict["passed"], verdict_status=verdict.get("status"),
                     chosen_round=chosen["round"],
                     general_share=chosen["general_share"], learning_rate=chosen["learning_rate"],
                     seconds=verdict.get("seconds"),
                     cost={**_training_cost(folder),
                           "search_seconds": (verdict.get("timings") or {}).get("interpolation search")},
                     scale=chosen.get("scale"),
                     forgetting=chosen["forgetting"], gain=chosen["gain"])
    elif folder.error.is_file():
        error = read_json(folder.error)
        entry.update(status="failed", passed=False, error=error.get("error"),
                     traceback=str(folder.traceback))
    else:
        entry.update(status="not run", passed=False)
    if folder.node.is_file():  # --executor ray: where it ran
        node = read_json(folder.node)
        entry["node"] = {k: node.get(k) for k in ("node_id", "hostname", "ip")}
    return entry


def summarise(spec: Any, compare_dir: Path, *, executor: str, seconds: float) -> dict[str, Any]:
    """Build compare.json's dict from ``COMPARE_DIR`` (the base evaluation and each strategy folder)."""
    compare_dir = Path(compare_dir)
    first = next(iter(spec.strategies.values()))
    threshold, policy = first.forgetting.threshold, first.forgetting.policy
    base_path = RunFolder(compare_dir).base_eval
    base = read_json(base_path) if base_path.is_file() else {}
    domain_names = [b.name for b in first.benchmarks.domain]
    raw = [_strategy(name, compare_dir / "strategies" / name, spec.overrides[name], config.trainer.name)
           for name, config in spec.strategies.items()]
    # Row order: what the domain gained first, then each general benchmark (the seed's table).
    done = [s for s in raw if s["status"] == "done"]
    general_names = list(done[0]["forgetting"]) if done else [n for n in base if n not in domain_names]
    benchmarks = [{"name": n, "role": "domain", **_base_score(base.get(n))} for n in domain_names]
    benchmarks += [{"name": n, "role": "general", **_base_score(base.get(n))} for n in general_names]

    strategies = []
    for s in raw:
        out = {k: v for k, v in s.items() if k not in ("forgetting", "gain")}
        if s["status"] == "done":
            cells = {n: cell(c, "domain", threshold, policy) for n, c in s["gain"].items()}
            cells.update({n: cell(c, "general", threshold, policy) for n, c in s["forgetting"].items()})
            general = [cells[n]["forgetting_pct"] for n in general_names if n in cells]
            out.update(
                cells=cells,
                domain_names=[n for n in domain_names if n in cells],
                domain_score=_mean([cells[n]["score"] for n in domain_names if n in cells]),
                domain_gain_pct=_mean([cells[n]["change_pct"] for n in domain_names if n in cells]),
                average_forgetting_pct=_mean(general),
                worst_forgetting_pct=max((g for g in general if g is not None), default=None),
            )
        strategies.append(out)
    return {
        "schema": COMPARE_SCHEMA,
        "base_model": first.base_model,
        "threshold": threshold,
        "policy": policy,
        "confidence": first.forgetting.confidence,
        "benchmarks": benchmarks,
        "strategies": strategies,
        "recommendation": recommend(strategies, threshold),
        "executor": executor,
        "seconds": round(seconds, 1),
    }


def _base_score(saved: dict[str, Any] | None) -> dict[str, Any]:
    if not saved:
        return {"n": None, "base": None, "metric": None}
    items = saved["items"]
    score = sum(item[1] for item in items) / len(items) if items else None
    return {"n": len(items), "base": _num(score), "metric": saved.get("metric")}


def _gained(strategy: dict[str, Any]) -> bool:
    """The strategy gained significantly on some domain benchmark (its domain cells say so)."""
    return any(c.get("status") == "gain" for n, c in strategy.get("cells", {}).items()
               if n in strategy.get("domain_names", ()))


def recommend(strategies: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The passing strategy with the best domain gain; when none passes, or none that passes
    gained anything the data can support, say so plainly."""
    done = [s for s in strategies if s["status"] == "done"]
    passing = [s for s in done if s["passed"]]
    if passing and not any(_gained(s) for s in passing) and any("domain_names" in s for s in passing):
        names = ", ".join(s["name"] for s in passing)
        gaining = [s["name"] for s in done if _gained(s)]
        return {"strategy": None, "passed": False,
                "reason": f"no strategy both passes and gains: {names} pass{'es' if len(passing) == 1 else ''} "
                          f"the {threshold:g}% threshold but gain nothing significant on the domain benchmarks"
                          + (f"; {', '.join(gaining)} gain{'s' if len(gaining) == 1 else ''} but "
                             f"{'does' if len(gaining) == 1 else 'do'} not pass" if gaining else "")}
    if passing:
        passing = [s for s in passing if _gained(s)] or passing  # a gain the data supports comes first
        # The relative gain, not the raw score: for a loss, lower is the better score.
        best = max(passing, key=lambda s: (s["domain_gain_pct"] if s["domain_gain_pct"] is not None else -math.inf,
                                           -(s["average_forgetting_pct"] or 0.0)))
        return {"strategy": best["name"], "passed": True,
                "reason": f"{best['name']} passes the {threshold:g}% forgetting threshold on every general "
                          f"benchmark and has the best domain gain among the {len(passing)} passing "
                          f"strateg{'y' if len(passing) == 1 else 'ies'}"}
    if not done:
        return {"strategy": None, "passed": False, "reason": "no strategy finished; nothing to recommend"}
    closest = min(done, key=lambda s: s["worst_forgetting_pct"] if s["worst_forgetting_pct"] is not None
                  else math.inf)
    worst = closest["worst_forgetting_pct"]
    worst_text = "n/a" if worst is None else f"{worst:.1f}%"
    return {"strategy": None, "passed": False,
            "reason": f"no strategy passes the {threshold:g}% forgetting threshold; the closest is "
                      f"{closest['name']} (worst forgetting {worst_text}). Try more general data, "
                      "a lower learning rate, or fewer epochs"}
