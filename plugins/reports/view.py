"""The report's view model: one plain dict built from a run folder's saved results.

Every renderer (HTML, Markdown, JSON) starts from this, so the three formats
always agree, and the JSON output *is* this dict (its schema is
``results.schema.json`` beside this file).
"""

from __future__ import annotations

import math
from typing import Any

from harness.helpers import comparison_row, group_above_threshold

RESULTS_SCHEMA = "harness.results/1"


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _interpolation(search: dict[str, Any] | None, summary: dict[str, Any],
                   training: dict[str, Any]) -> dict[str, Any] | None:
    """The search toward the base after this round, with both ends (s = 0 is the base, s = 1 this round)."""
    if not search or not search.get("points"):
        return None
    ends = [{"scale": 0.0, "status": "base", "passed": True, "worst_forgetting": 0.0, "domain_gain": 0.0,
             "forgetting": {name: 0.0 for name in summary["forgetting"]}, "seconds": None},
            {"scale": 1.0, "status": summary.get("status"), "passed": summary["passed"],
             "worst_forgetting": _num(summary["worst_forgetting"]), "domain_gain": _num(summary.get("domain_gain")),
             "forgetting": {name: _num(c["relative"]) for name, c in summary["forgetting"].items()},
             "seconds": None}]
    probed = [{"scale": p["scale"], "status": p["status"], "passed": p["passed"],
               "worst_forgetting": _num(p["worst_forgetting"]), "domain_gain": _num(p["domain_gain"]),
               "forgetting": {name: _num(c["relative"]) for name, c in p["forgetting"].items()},
               "seconds": p.get("seconds")} for p in search["points"]]
    return {"points": sorted([*ends, *probed], key=lambda p: p["scale"]),
            "chosen": (search.get("chosen") or {}).get("scale"),
            "seconds": search.get("seconds"), "probes": len(probed),
            "training_seconds": _num(training.get("seconds"))}


def breakdown_rows(saved: dict[str, Any], threshold: float) -> list[dict[str, Any]]:
    """A round's breakdown.json as the renderers show it: per benchmark, groups and flipped items.

    Forgetting is positive when the fine-tuned model is worse, for every role and metric; a
    group is flagged when its whole interval lies at or above the threshold. Runs saved
    before breakdowns existed give an empty list.
    """
    rows = []
    for name, b in (saved.get("benchmarks") or {}).items():
        groups = []
        for g in b.get("groups", []):
            low, high = _num(g["relative_ci"]["low"]), _num(g["relative_ci"]["high"])
            groups.append({
                "group": g["group"], "n": g["n"], "base": _num(g["base"]), "candidate": _num(g["candidate"]),
                "forgetting_pct": _num(g["relative"]), "forgetting_ci_pct": [low, high],
                "p_value": _num(g.get("p_value")), "worse": g.get("worse"), "better": g.get("better"),
                "too_few_items": bool(g.get("too_few_items")),
                "above_threshold": group_above_threshold({**g, "relative_ci": {"low": low}}, threshold),
            })
        flips = b.get("flips")
        rows.append({
            "benchmark": name, "role": b.get("role", ""), "metric": b.get("metric", ""), "n": b.get("n"),
            "groups": groups,
            "flips": None if flips is None else {
                "rule": flips.get("rule", ""), "wrong_to_right": flips.get("wrong_to_right", 0),
                "right_to_wrong": [{"item_id": f["item_id"], "group": f.get("group"), "text": f.get("text"),
                                    "answer": f.get("answer"), "base": _num(f.get("base")),
                                    "candidate": _num(f.get("candidate"))} for f in flips.get("right_to_wrong", [])],
            },
            "note": b.get("note", ""),
        })
    return rows


def _what(summary: dict[str, Any]) -> str:
    if summary.get("scale") is not None:
        return f"round {summary['source_round']}'s weights at s={summary['scale']:g} toward the base (no training)"
    return f"general share {summary['general_share']:.0%}, learning rate {summary['learning_rate']:g}"


def build(results: dict[str, Any]) -> dict[str, Any]:
    """Everything the renderers show, in display order."""
    verdict = results["verdict"]
    threshold, policy = verdict["threshold"], verdict["policy"]
    rounds = []
    for summary in verdict["rounds"]:
        index = summary["round"]
        saved = results["rounds"].get(index) or results["rounds"].get(str(index)) or {}
        metrics = saved.get("metrics", [])
        rounds.append({
            "round": index,
            "general_share": summary["general_share"],
            # how the round is named in headings and chart legends
            "what": _what(summary),
            "label": (f"round {index} (s={summary['scale']:.2g})" if summary.get("scale") is not None
                      else f"round {index} ({summary['general_share']:.0%})"),
            "learning_rate": summary["learning_rate"],
            "passed": summary["passed"],
            "status": summary.get("status") or ("pass" if summary["passed"] else "fail"),
            "reasons": summary.get("reasons", []),
            "worst_forgetting": _num(summary["worst_forgetting"]),
            "domain_score": _num(summary.get("domain_score")),
            "general": [comparison_row(c, threshold, policy, "general") for c in summary["forgetting"].values()],
            "domain": [comparison_row(c, threshold, policy, "domain") for c in summary.get("gain", {}).values()],
            "decision": saved.get("decision", {}),
            "training": saved.get("training", {}),
            "mix": saved.get("mix", {}),
            "token_lengths": saved.get("data_stats", {}).get("token_lengths", []),
            "samples": saved.get("samples", []),
            "checkpoint_choice": saved.get("checkpoint_choice", {}),
            "scale": summary.get("scale"),
            "source_round": summary.get("source_round"),
            "interpolation": _interpolation(saved.get("interpolation"), summary, saved.get("training", {})),


            "breakdown": breakdown_rows(saved.get("breakdown") or {}, threshold),
            "metrics": [
                {"step": m.get("step"), "loss": m.get("loss"), "val_loss": m.get("val_loss"),
                 "learning_rate": m.get("lr", m.get("learning_rate")), "grad_norm": m.get("grad_norm"),
                 "tokens_per_second": m.get("tokens_per_s"), "padding_ratio": m.get("padding_ratio"),
                 "early_warning": m.get("early_warning")}
                for m in metrics
            ],
        })
    return {
        "schema": RESULTS_SCHEMA,
        "verdict": {
            "passed": verdict["passed"],
            "status": verdict.get("status") or ("pass" if verdict["passed"] else "fail"),
            "threshold": threshold,
            "policy": policy,
            "method": (verdict.get("judging") or {}).get("method", ""),
            "chosen_round": verdict["chosen_round"],
            "reason": verdict["reason"],
        },
        "base_model": verdict["base_model"],
        "trainer": verdict["trainer"],
        "rounds": rounds,
        "base_samples": results.get("base_samples", []),
        "manifest": results.get("manifest", {}),
        "config_text": results.get("config_text", ""),
        "environment": verdict.get("environment", {}),
        "timings": verdict.get("timings", {}),
        "seconds": verdict.get("seconds"),
    }
