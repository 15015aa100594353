"""The release gate: re-judge a run's verdict under a threshold and policy; Markdown for CI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.evaluation.sequential import rejudge
from harness.evaluation.stats import STATUS_LABELS, format_pct, overall_status, status_label, status_of
from harness.run_record import VERDICT_SCHEMA, RoundResult, RunVerdict, SavedComparison, validate_verdict

# VERDICT_SCHEMA, STATUS_LABELS and status_label: served here too, their earlier home.
__all__ = ["STATUS_LABELS", "VERDICT_SCHEMA", "read_verdict", "status_label"]


def read_verdict(path: Path) -> RunVerdict:
    """``verdict.json`` from a run folder or the file itself, typed; malformed input is a UsageError."""
    path = Path(path)
    file = path / "verdict.json" if path.is_dir() else path
    if not file.is_file():
        raise UsageError(f"{path}: no verdict.json (has the run finished?)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UsageError(f"{file}: not valid JSON: {error}") from None
    return validate_verdict(data, str(file))


def chosen_round(verdict: RunVerdict) -> RoundResult:
    return verdict.chosen()


def benchmark_statuses(verdict: RunVerdict, max_forgetting: float | None = None,
                       policy: str | None = None) -> dict[str, str]:
    """Each general benchmark's status in the chosen round, re-judged at another threshold or policy if asked.

    A sequential verdict is re-judged from its saved looks (the items and
    boundaries as run), so a stricter threshold can only use the evidence the
    run collected; a benchmark uninformative for the model stays so.
    """
    threshold = verdict.threshold if max_forgetting is None else max_forgetting
    policy = policy or verdict.policy
    out = {}
    for name, c in verdict.chosen().forgetting.items():
        if policy == "sequential" and c.looks and max_forgetting is not None and c.status != "uninformative":
            out[name] = rejudge(c.looks, threshold / 100, corrected=c.relative_to == "above_chance")
        else:
            out[name] = status_of(c, threshold, policy)
    return out


def verdict_status(verdict: RunVerdict, max_forgetting: float | None = None, policy: str | None = None) -> tuple[str, list[str]]:
    """The chosen round's status ("pass", "fail", "undecided") and one line per benchmark that did not pass."""
    threshold = verdict.threshold if max_forgetting is None else max_forgetting
    statuses = benchmark_statuses(verdict, max_forgetting, policy)
    chosen = verdict.chosen().forgetting
    lines = []
    for name, status in statuses.items():
        c = chosen[name]
        if status in ("fail", "undecided"):
            more = f"; {c.reason}" if status == "undecided" and c.reason else ""
            lines.append(f"{name}: {status_label(status, policy or verdict.policy)} at n={c.n}, forgetting "
                         f"{c.relative:.2f}% [{c.relative_ci.low:.2f}, {c.relative_ci.high:.2f}] vs {threshold:g}%{more}")
        elif status == "uninformative":
            lines.append(f"{name}: uninformative for this model, not gated ({c.reason})")
    return overall_status(list(statuses.values())), lines


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def comparison_row(c: dict[str, Any] | SavedComparison, threshold: float, policy: str, role: str) -> dict[str, Any]:
    """One saved comparison as every renderer shows it (results.json's ``comparison``).

    Change is relative to the base and positive = better (the negated forgetting).
    """
    if isinstance(c, SavedComparison):
        c = c.model_dump()
    return {
        "benchmark": c["benchmark"],
        "metric": c["metric"],
        "n": c["n"],
        "base": _num(c["base"]),
        "candidate": _num(c["candidate"]),
        "change_pct": _num(-c["relative"]),
        "change_ci_pct": [_num(-c["relative_ci"]["high"]), _num(-c["relative_ci"]["low"])],
        "forgetting_pct": _num(c["relative"]),
        "forgetting_ci_pct": [_num(c["relative_ci"]["low"]), _num(c["relative_ci"]["high"])],
        "difference": _num(c["difference"]),
        "difference_ci": [_num(c["difference_ci"]["low"]), _num(c["difference_ci"]["high"])],
        "p_value": _num(c["p_value"]),
        "p_test": c.get("p_test") or ("mcnemar" if c.get("p_is_mcnemar", True) else "sign"),
        "worse": c.get("worse"),
        "better": c.get("better"),
        "status": status_of(c, threshold, policy) if role == "general" else (c.get("status") or _saved_gain(c)),
        "reason": c.get("reason", ""),
        "more_items": c.get("more_items"),
        "chance": _num(c.get("chance")),
        "ci_method": c.get("ci_method", "paired bootstrap"),
        "looks": [{"n": look["n"], "status": look["status"]} for look in c.get("looks", [])],
    }


def _saved_gain(c: dict[str, Any]) -> str:
    """Runs saved before gain statuses existed: say what their McNemar p supports."""
    if c["p_value"] < 0.05:
        return "gain" if c["relative"] < 0 else "worse"
    return "no significant change"


def markdown_table(domain: list[dict[str, Any]], general: list[dict[str, Any]], policy: str) -> list[str]:
    """The verdict table in Markdown, from :func:`comparison_row` rows: the one table the gate and reports print."""
    lines = ["| benchmark | role | n | base | fine-tuned | change | CI | p | status |",
             "|---|---|---:|---:|---:|---:|---|---:|---|"]
    for role, rows in (("domain", domain), ("general", general)):
        for c in rows:
            status = status_label(c["status"], policy) if role == "general" else c["status"]
            if status == "decided fail" or (policy != "sequential" and role == "general" and status == "fail"):
                status = f"**{status}**"
            if c.get("more_items") and c["status"] == "undecided":
                status += f" (~{c['more_items']} more items)"
            elif c.get("reason"):
                status += f" ({c['reason']})"
            p = "n/a" if c["p_value"] is None else f"{c['p_value']:.3g}"
            lines.append(f"| {c['benchmark']} | {role} | {c['n']} | {_score(c['base'])} | {_score(c['candidate'])} | "
                         f"{format_pct(c['change_pct'])} | [{format_pct(c['change_ci_pct'][0])}, "
                         f"{format_pct(c['change_ci_pct'][1])}] | {p} | {status} |")
    return lines


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


EXIT_CODES = {"pass": 0, "fail": 1, "undecided": 3}

_pct = format_pct


def markdown_summary(verdict: RunVerdict, max_forgetting: float | None = None, policy: str | None = None) -> str:
    """Per-benchmark base -> fine-tuned, forgetting with CI, n and status, and the verdict, as Markdown."""
    threshold = verdict.threshold if max_forgetting is None else max_forgetting
    policy = policy or verdict.policy
    status, lines_failing = verdict_status(verdict, max_forgetting, policy)
    statuses = benchmark_statuses(verdict, max_forgetting, policy)
    chosen = verdict.chosen()
    judging = verdict.judging or {}
    method = judging.get("method") if policy == verdict.policy else None
    rule = method or {"point": "the point estimate must stay below it",
                      "strict": "the upper 95% CI bound must stay below it",
                      "sequential": "decided pass when the upper confidence bound is below it"}[policy]
    general = [{**comparison_row(c, threshold, policy, "general"), "status": statuses[name]}
               for name, c in chosen.forgetting.items()]
    domain = [comparison_row(c, threshold, policy, "domain") for c in chosen.gain.values()]
    external = verdict.trainer == "external"  # weights trained elsewhere: no share, no learning rate
    judged = (f"Candidate `{chosen.weights}` (trained elsewhere) against base `{verdict.base_model}`. "
              if external else
              f"Model `{verdict.base_model}` fine-tuned with `{verdict.trainer}`; round {chosen.round} "
              f"(general share {chosen.general_share:.0%}, learning rate {chosen.learning_rate:g}). ")
    lines = [
        f"## Forgetting gate: {status.upper()}",
        "",
        judged + f"Threshold {threshold:g}% relative degradation, `{policy}` policy ({rule}).",
        "",
        *markdown_table(domain, general, policy),
    ]
    if not external:
        lines += ["", "Rounds: " + ", ".join(
            f"{r.round} ({r.general_share:.0%}: {r.status or ('pass' if r.passed else 'fail')}, "
            f"worst {r.worst_forgetting:.1f}%)" for r in verdict.rounds) + f". {verdict.reason}."]
    if lines_failing:
        lines += ["", "Not passed: " + "; ".join(lines_failing)]
    if policy == "sequential" and judging.get("spending", "anytime") != "anytime":
        lines += ["", "Judged with planned looks (alpha spending for a maximum fixed in advance): its error holds "
                  "for that maximum only, so an extended budget means judging afresh with an anytime-valid "
                  "verdict (`forgetting.spending: anytime`, the default)."]
    if policy == "sequential":
        lines += ["", "A pass is decided per benchmark at the stated level; \"every benchmark passes\" then holds at "
                  "that level too (intersection-union). Fail decisions are made per benchmark, so with many "
                  "benchmarks a false alarm is likelier than the level: the gate errs toward not shipping."]
    return "\n".join(lines)
