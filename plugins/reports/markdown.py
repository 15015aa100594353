"""report.md: the same tables as the HTML report, in GitHub-flavoured Markdown."""

from __future__ import annotations

from typing import Any

from harness.helpers import format_pct, markdown_table

TOP_GROUPS = 5  # regressions shown per benchmark; the HTML report and results.json have every group


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def render_markdown(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    lines = [
        f"# Forgetting report: {verdict['status'].upper()}",
        "",
        f"`{report['base_model']}` fine-tuned with `{report['trainer']}`. Threshold: {verdict['threshold']:g}% "
        f"relative degradation on every general benchmark, `{verdict['policy']}` policy. Chosen round: "
        f"{verdict['chosen_round']} ({verdict['reason']}).",
        "",
        "Change is relative to the base model on the same items (negative = worse); n is how many items it "
        "took; p is the exact McNemar test (a paired t-test for graded scores). Domain intervals are paired bootstrap 95% CIs."
        + (f" General verdicts: {verdict['method']}." if verdict.get("method") else ""),
    ]
    for r in report["rounds"]:
        lines += [
            "",
            f"## Round {r['round']}: {r['what']} - {r['status']}",
            "",
            *markdown_table(r["domain"], r["general"], verdict["policy"]),
        ]
        search = r.get("interpolation")
        if search:
            lines += ["", f"Interpolation toward the base ({search['probes']} probes, {search['seconds'] or 0:.0f} s"
                      + (f"; training this round took {search['training_seconds']:.0f} s" if search.get("training_seconds") else "")
                      + "):", "", "| s | status | worst forgetting | domain gain |", "|---:|---|---:|---:|"]
            lines += [f"| {p['scale']:g}{' (chosen)' if p['scale'] == search['chosen'] else ''} | {p['status']} | "
                      f"{_pct(p['worst_forgetting'])} | {_pct(p['domain_gain'])} |" for p in search["points"]]
        decision = r.get("decision") or {}
        if decision:
            lines += ["", f"Decision: **{decision.get('action')}**: {decision.get('reason')}"]
        lines += _where_forgotten(r["breakdown"])
    timings = report.get("timings") or {}
    if timings:
        lines += ["", "Time per stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
                  + (f"; total {report['seconds']:.0f} s." if report.get("seconds") is not None else ".")]
    return "\n".join(lines) + "\n"


def _where_forgotten(breakdown: list[dict[str, Any]]) -> list[str]:
    """Per benchmark: the largest group regressions and how many items flipped."""
    if not breakdown:
        return []
    lines = ["", "### Where forgetting happened", ""]
    flips = []
    for b in breakdown:
        if b["flips"] is not None:
            flips.append(f"{b['benchmark']} {len(b['flips']['right_to_wrong'])} right -> wrong "
                         f"({b['flips']['wrong_to_right']} wrong -> right)")
    if flips:
        lines += ["Flipped items: " + "; ".join(flips) + ".", ""]
    for b in breakdown:
        if not b["groups"]:
            continue
        shown = b["groups"][:TOP_GROUPS]
        lines += [f"`{b['benchmark']}`: largest regressions of {len(b['groups'])} groups (paired bootstrap CI per group)",
                  "", "| group | n | base | fine-tuned | forgetting | CI |", "|---|---:|---:|---:|---:|---|"]
        for g in shown:
            ci = ("too few items to say" if g["too_few_items"] else
                  f"[{format_pct(g['forgetting_ci_pct'][0])}, {format_pct(g['forgetting_ci_pct'][1])}]")
            value = format_pct(g["forgetting_pct"])
            group = g["group"].replace("|", "\\|")  # a pipe would end the cell
            lines.append(f"| {group} | {g['n']} | {_score(g['base'])} | {_score(g['candidate'])} | "
                         f"{f'**{value}**' if g['above_threshold'] else value} | {ci} |")
        lines.append("")
    return lines[:-1] if lines[-1] == "" else lines


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
