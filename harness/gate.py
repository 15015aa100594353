"""The release gate: re-judge a run's verdict under a threshold and policy; Markdown for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.api import UsageError
from harness.sequential import rejudge
from harness.stats import format_pct, overall_status, status_of

VERDICT_SCHEMA = "harness.verdict/1"


def read_verdict(path: Path) -> dict[str, Any]:
    """``verdict.json`` from a run folder or the file itself; malformed input is a UsageError."""
    path = Path(path)
    file = path / "verdict.json" if path.is_dir() else path
    if not file.is_file():
        raise UsageError(f"{path}: no verdict.json (has the run finished?)")
    try:
        verdict = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UsageError(f"{file}: not valid JSON: {error}") from None
    if not isinstance(verdict, dict) or verdict.get("schema") != VERDICT_SCHEMA:
        raise UsageError(f"{file}: not a harness verdict (expected schema {VERDICT_SCHEMA!r})")
    try:
        chosen = next(r for r in verdict["rounds"] if r["round"] == verdict["chosen_round"])
        for c in chosen["forgetting"].values():
            float(c["relative"]), float(c["relative_ci"]["high"]), int(c["n"])
    except (KeyError, StopIteration, TypeError, ValueError) as error:
        raise UsageError(f"{file}: malformed verdict ({type(error).__name__}: {error})") from None
    return verdict


def chosen_round(verdict: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in verdict["rounds"] if r["round"] == verdict["chosen_round"])


def benchmark_statuses(verdict: dict[str, Any], max_forgetting: float | None = None,
                       policy: str | None = None) -> dict[str, str]:
    """Each general benchmark's status in the chosen round, re-judged at another threshold or policy if asked.

    A sequential verdict is re-judged from its saved looks (the items and
    boundaries as run), so a stricter threshold can only use the evidence the
    run collected; a benchmark uninformative for the model stays so.
    """
    threshold = verdict["threshold"] if max_forgetting is None else max_forgetting
    policy = policy or verdict["policy"]
    out = {}
    for name, c in chosen_round(verdict)["forgetting"].items():
        if policy == "sequential" and c.get("looks") and max_forgetting is not None and c.get("status") != "uninformative":
            out[name] = rejudge(c["looks"], threshold / 100, corrected=c.get("relative_to") == "above_chance")
        else:
            out[name] = status_of(c, threshold, policy)
    return out


def judge(verdict: dict[str, Any], max_forgetting: float | None = None, policy: str | None = None) -> tuple[str, list[str]]:
    """The chosen round's status ("pass", "fail", "undecided") and one line per benchmark that did not pass."""
    threshold = verdict["threshold"] if max_forgetting is None else max_forgetting
    statuses = benchmark_statuses(verdict, max_forgetting, policy)
    chosen = chosen_round(verdict)["forgetting"]
    lines = []
    for name, status in statuses.items():
        c = chosen[name]
        if status in ("fail", "undecided"):
            more = f"; {c['reason']}" if status == "undecided" and c.get("reason") else ""
            lines.append(f"{name}: {status_label(status, policy or verdict['policy'])} at n={c['n']}, forgetting {c['relative']:.2f}% "
                         f"[{c['relative_ci']['low']:.2f}, {c['relative_ci']['high']:.2f}] vs {threshold:g}%{more}")
        elif status == "uninformative":
            lines.append(f"{name}: uninformative for this model, not gated ({c.get('reason', '')})")
    return overall_status(list(statuses.values())), lines


STATUS_LABELS = {"pass": "decided pass", "fail": "decided fail", "undecided": "undecided",
                 "uninformative": "uninformative"}


def status_label(status: str, policy: str) -> str:
    """"decided pass" / "decided fail" only where a sequential test decided it; point/strict say pass / fail."""
    return STATUS_LABELS.get(status, status) if policy == "sequential" else status
EXIT_CODES = {"pass": 0, "fail": 1, "undecided": 3}

_pct = format_pct


def markdown_summary(verdict: dict[str, Any], max_forgetting: float | None = None, policy: str | None = None) -> str:
    """Per-benchmark base -> fine-tuned, forgetting with CI, n and status, and the verdict, as Markdown."""
    threshold = verdict["threshold"] if max_forgetting is None else max_forgetting
    policy = policy or verdict["policy"]
    status, lines_failing = judge(verdict, max_forgetting, policy)
    statuses = benchmark_statuses(verdict, max_forgetting, policy)
    chosen = chosen_round(verdict)
    method = (verdict.get("judging") or {}).get("method") if policy == verdict["policy"] else None
    rule = method or {"point": "the point estimate must stay below it",
                      "strict": "the upper 95% CI bound must stay below it",
                      "sequential": "decided pass when the upper confidence bound is below it"}[policy]
    lines = [
        f"## Forgetting gate: {status.upper()}",
        "",
        f"Model `{verdict['base_model']}` fine-tuned with `{verdict['trainer']}`; round {chosen['round']} "
        f"(general share {chosen['general_share']:.0%}, learning rate {chosen['learning_rate']:g}). "
        f"Threshold {threshold:g}% relative degradation, `{policy}` policy ({rule}).",
        "",
        "| benchmark | n | base | fine-tuned | change (relative) | CI | McNemar p | status |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for name, c in chosen["forgetting"].items():
        label = status_label(statuses[name], policy)
        if statuses[name] == "fail":
            label = f"**{label}**"
        elif statuses[name] == "undecided" and c.get("more_items"):
            label += f" (~{c['more_items']} more items)"
        lines.append(
            f"| {name} | {c['n']} | {c['base']:.3f} | {c['candidate']:.3f} | {_pct(-c['relative'])} | "
            f"[{_pct(-c['relative_ci']['high'])}, {_pct(-c['relative_ci']['low'])}] | {c['p_value']:.3g} | {label} |"
        )
    for name, c in chosen.get("gain", {}).items():
        lines.append(
            f"| {name} (domain) | {c['n']} | {c['base']:.3f} | {c['candidate']:.3f} | {_pct(-c['relative'])} | "
            f"[{_pct(-c['relative_ci']['high'])}, {_pct(-c['relative_ci']['low'])}] | {c['p_value']:.3g} | "
            f"{c.get('status') or 'gain'} |"
        )
    lines += ["", "Rounds: " + ", ".join(
        f"{r['round']} ({r['general_share']:.0%}: {r.get('status') or ('pass' if r['passed'] else 'fail')}, "
        f"worst {r['worst_forgetting']:.1f}%)" for r in verdict["rounds"]) + f". {verdict['reason']}."]
    if lines_failing:
        lines += ["", "Not passed: " + "; ".join(lines_failing)]
    if policy == "sequential":
        lines += ["", "A pass is decided per benchmark at the stated level; \"every benchmark passes\" then holds at "
                  "that level too (intersection-union). Fail decisions are made per benchmark, so with many "
                  "benchmarks a false alarm is likelier than the level: the gate errs toward not shipping."]
    return "\n".join(lines)
