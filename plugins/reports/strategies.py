"""The strategy comparison report: compare.html, compare.md and compare.json from one summary dict.

The summary (schema ``harness.strategies.runner/1``, built by :mod:`harness.strategies.summary`)
holds every number; these renderers only lay it out, with the same table shape
as the seed's "before/after forgetting mitigation" example: rows are domain
accuracy and each general benchmark, columns the base model and each strategy.
The HTML reuses the run report's stylesheet and inline-SVG charts, so it opens
offline with no scripts.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from harness.helpers import format_pct, write_atomic

from . import svg

MARKS = {"pass": "✓", "fail": "⚠", "undecided": "?", "uninformative": "∅", "gain": "↑", "no gain": "·",
         "no significant change": "·", "worse": "↓"}


def _pct(value: float | None) -> str:
    return format_pct(value)


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def cell_text(cell: dict[str, Any] | None) -> str:
    """``0.608 (-2.6% [-5.1%, +0.3%]) ✓``: score, change vs base with its CI, and the mark."""
    if cell is None:
        return "n/a"
    lo, hi = cell["change_ci_pct"]
    return f"{_score(cell['score'])} ({_pct(cell['change_pct'])} [{_pct(lo)}, {_pct(hi)}]) {MARKS[cell['status']]}"


def table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The comparison table as header + rows of text; every renderer shows exactly these cells."""
    strategies = summary["strategies"]
    header = ["benchmark", "n", "base model"] + [s["name"] for s in strategies]
    rows = []
    for bench in summary["benchmarks"]:
        label = f"{bench['name']} (domain)" if bench["role"] == "domain" else bench["name"]
        row = [label, "" if bench["n"] is None else str(bench["n"]), _score(bench["base"])]
        for s in strategies:
            if s["status"] != "done":
                row.append(s["status"])
            else:
                row.append(cell_text(s["cells"].get(bench["name"])))
        rows.append(row)
    verdict_row = ["verdict", "", ""] + [
        (s.get("verdict_status") or ("pass" if s["passed"] else "fail")).upper() if s["status"] == "done"
        else s["status"].upper() for s in strategies]
    rows.append(verdict_row)
    return header, rows


def cost_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for s in summary["strategies"]:
        cost = s.get("cost") or {}
        rows.append({"name": s["name"], "status": s["status"], "trainer": s["trainer"],
                     "general_share": s.get("general_share"), "learning_rate": s.get("learning_rate"),
                     "rounds": cost.get("rounds"), "steps": cost.get("steps"), "tokens": cost.get("tokens"),
                     "train_seconds": cost.get("train_seconds"), "seconds": s.get("seconds"),
                     "interpolation": _interpolation_text(s.get("scale"), cost.get("search_seconds")),
                     "error": s.get("error")})
    return rows


def _interpolation_text(scale: float | None, seconds: float | None) -> str:
    """What the interpolate policy did: the scale shipped and the search's cost ('' when it never searched)."""
    if seconds is None:
        return ""
    return (f"s={scale:g}, " if scale is not None else "no scale passed, ") + f"{seconds:.0f} s"


def _intro(summary: dict[str, Any]) -> str:
    return (f"Base model `{summary['base_model']}`. Each cell: the strategy's score, its change relative to "
            f"the base model on the same items (positive = better) with a paired bootstrap "
            f"{summary['confidence']:.0%} CI, and a mark: ✓ decided under {summary['threshold']:g}% forgetting "
            f"({summary['policy']} policy), ⚠ decided over it, ? undecided, ∅ uninformative (base at chance); "
            f"↑ the domain gained significantly, ↓ it got significantly worse, · no significant change.")


def render_markdown(summary: dict[str, Any]) -> str:
    rec = summary["recommendation"]
    header, rows = table(summary)
    lines = ["# Strategy comparison", "", _intro(summary), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"**Recommendation:** {rec['strategy'] or 'none'}: {rec['reason']}.", "",
              "## Training cost", "",
              "| strategy | trainer | general share | learning rate | rounds | steps | tokens | train time "
              "| interpolation | total time |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for c in cost_rows(summary):
        if c["status"] != "done":
            lines.append(f"| {c['name']} | {c['trainer']} | {c['status']}: {c.get('error') or ''} | | | | | | | |")
            continue
        lines.append(f"| {c['name']} | {c['trainer']} | {c['general_share']:.0%} | {c['learning_rate']:g} | "
                     f"{c['rounds']} | {c['steps']} | {c['tokens']:,} | {c['train_seconds']:.0f} s | "
                     f"{c['interpolation'] or '-'} | {c['seconds']:.0f} s |")
    lines += ["", f"Executor: {summary['executor']}; {summary['seconds']:.0f} s for this invocation."]
    return "\n".join(lines) + "\n"


def _charts(summary: dict[str, Any]) -> dict[str, str]:
    done = [s for s in summary["strategies"] if s["status"] == "done"]
    points = [(s["name"], s["average_forgetting_pct"], s["domain_gain_pct"], s["passed"]) for s in done
              if s["average_forgetting_pct"] is not None and s["domain_gain_pct"] is not None]
    general = [b["name"] for b in summary["benchmarks"] if b["role"] == "general"]
    nan = float("nan")
    bars = svg.grouped_bars(
        general,
        [(s["name"], [s["cells"][g]["forgetting_pct"] if g in s["cells"] else nan for g in general],
          [(-(s["cells"][g]["change_ci_pct"][1] or nan), -(s["cells"][g]["change_ci_pct"][0] or nan))
           if g in s["cells"] else (nan, nan) for g in general]) for s in done],
        title="Forgetting per general benchmark", y_label="forgetting, % relative (CI)",
        hline=(summary["threshold"], f"threshold {summary['threshold']:g}%"),
    ) if done and general else ""
    cost = [s for s in done if (s.get("cost") or {}).get("train_seconds") is not None]
    return {
        "tradeoff": svg.scatter(points, title="Domain gain vs average forgetting",
                                x_label="average forgetting on general benchmarks, % relative",
                                y_label="domain gain, % relative", pass_region_x=summary["threshold"]),
        "forgetting": bars,
        "cost": svg.grouped_bars([s["name"] for s in cost], [("training time", [s["cost"]["train_seconds"] for s in cost],
                                                              [])], title="Training time per strategy",
                                 y_label="seconds") if cost else "",
    }


def render_html(summary: dict[str, Any]) -> str:
    folder = resources.files(__package__).joinpath("templates")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    header, rows = table(summary)
    return env.from_string(folder.joinpath("compare.html.j2").read_text(encoding="utf-8")).render(
        summary=summary, header=header, rows=rows, costs=cost_rows(summary), charts=_charts(summary),
        intro=_intro(summary).replace("`", ""), css=folder.joinpath("report.css").read_text(encoding="utf-8"),
    )


def render_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, allow_nan=False) + "\n"


RENDERERS = {"compare.json": render_json, "compare.md": render_markdown, "compare.html": render_html}


def write_reports(compare_dir: Path, summary: dict[str, Any]) -> list[Path]:
    """Write compare.json, compare.md and compare.html into ``compare_dir``; returns their paths."""
    written = []
    for filename, render in RENDERERS.items():
        path = Path(compare_dir) / filename
        write_atomic(path, render(summary))
        written.append(path)
    return written
