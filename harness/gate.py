"""The release gate: re-judge a run's verdict under a threshold and policy; Markdown for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.api import UsageError
from harness.stats import format_pct

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


def judge(verdict: dict[str, Any], max_forgetting: float | None = None, policy: str | None = None) -> tuple[bool, list[str]]:
    """Pass when every general benchmark of the chosen round stays under the threshold."""
    threshold = verdict["threshold"] if max_forgetting is None else max_forgetting
    policy = policy or verdict["policy"]
    failures = []
    for name, c in chosen_round(verdict)["forgetting"].items():
        value = c["relative"] if policy == "point" else c["relative_ci"]["high"]
        if not value < threshold:
            what = "forgetting" if policy == "point" else "upper CI bound of forgetting"
            failures.append(f"{name}: {what} {value:.2f}% >= {threshold:g}%")
    return not failures, failures


_pct = format_pct


def markdown_summary(verdict: dict[str, Any], max_forgetting: float | None = None, policy: str | None = None) -> str:
    """Per-benchmark base -> fine-tuned, forgetting with CI, and the verdict, as Markdown."""
    threshold = verdict["threshold"] if max_forgetting is None else max_forgetting
    policy = policy or verdict["policy"]
    passed, failures = judge(verdict, threshold, policy)
    chosen = chosen_round(verdict)
    lines = [
        f"## Forgetting gate: {'PASS' if passed else 'FAIL'}",
        "",
        f"Model `{verdict['base_model']}` fine-tuned with `{verdict['trainer']}`; round {chosen['round']} "
        f"(general share {chosen['general_share']:.0%}, learning rate {chosen['learning_rate']:g}). "
        f"Threshold {threshold:g}% relative degradation, `{policy}` policy "
        f"({'point estimate' if policy == 'point' else 'upper 95% CI bound'} must stay below it).",
        "",
        "| benchmark | n | base | fine-tuned | change (relative) | 95% CI | McNemar p | status |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for name, c in chosen["forgetting"].items():
        value = c["relative"] if policy == "point" else c["relative_ci"]["high"]
        ok = value < threshold
        lines.append(
            f"| {name} | {c['n']} | {c['base']:.3f} | {c['candidate']:.3f} | {_pct(-c['relative'])} | "
            f"[{_pct(-c['relative_ci']['high'])}, {_pct(-c['relative_ci']['low'])}] | {c['p_value']:.3g} | "
            f"{'ok' if ok else '**forgot**'} |"
        )
    for name, c in chosen.get("gain", {}).items():
        lines.append(
            f"| {name} (domain) | {c['n']} | {c['base']:.3f} | {c['candidate']:.3f} | {_pct(-c['relative'])} | "
            f"[{_pct(-c['relative_ci']['high'])}, {_pct(-c['relative_ci']['low'])}] | {c['p_value']:.3g} | gain |"
        )
    lines += ["", f"Rounds: " + ", ".join(
        f"{r['round']} ({r['general_share']:.0%}: {'pass' if r['passed'] else 'fail'}, worst {r['worst_forgetting']:.1f}%)"
        for r in verdict["rounds"]) + f". {verdict['reason']}."]
    if failures:
        lines += ["", "Failing: " + "; ".join(failures)]
    return "\n".join(lines)
