"""report.html: one self-contained page rendered with jinja2 (inline CSS, inline SVG charts).

Nothing on the page loads from the network: no fonts, scripts or images from
elsewhere, so it opens on an air-gapped machine and in a CI artifact viewer.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from harness.helpers import format_pct, STATUS_LABELS

from . import svg


def _charts(report: dict[str, Any]) -> dict[str, str]:
    rounds = report["rounds"]
    threshold = report["verdict"]["threshold"]
    charts: dict[str, str] = {}
    benchmarks = [c["benchmark"] for c in rounds[0]["general"]] if rounds else []
    if benchmarks:
        charts["forgetting"] = svg.grouped_bars(
            benchmarks,
            [(r["label"],
              [c["forgetting_pct"] for c in r["general"]],
              [tuple(v if v is not None else float("nan") for v in c["forgetting_ci_pct"]) for c in r["general"]])
             for r in rounds],
            title="Forgetting per benchmark per round", y_label="forgetting, % (95% CI)",
            hline=(threshold, f"threshold {threshold:g}%"),
        )
    points = []
    for r in rounds:
        forgetting = [c["forgetting_pct"] for c in r["general"] if c["forgetting_pct"] is not None]
        gains = [c["change_pct"] for c in r["domain"] if c["change_pct"] is not None]
        if forgetting and gains:
            points.append((r["label"], sum(forgetting) / len(forgetting),
                           sum(gains) / len(gains), r["passed"]))
    charts["tradeoff"] = svg.scatter(points, title="Domain gain vs average forgetting",
                                     x_label="average forgetting on general benchmarks, %",
                                     y_label="domain gain, % relative", pass_region_x=threshold)
    loss_series, val_series, lr_series, warn_series = [], [], [], []
    for r in rounds:
        label = f"round {r['round']}"
        steps = [m for m in r["metrics"] if m.get("step") is not None]
        if not steps:  # an interpolation round trains nothing
            continue
        loss_series.append((f"{label} train (moving average)",
                            [(m["step"], m["loss"]) for m in steps if m.get("loss") is not None]))
        val = [(m["step"], m["val_loss"]) for m in steps if m.get("val_loss") is not None]
        if val:
            val_series.append((f"{label} validation", val))
        lr_series.append((label, [(m["step"], m["learning_rate"]) for m in steps if m.get("learning_rate") is not None]))
        warn = [(m["step"], m["early_warning"]) for m in steps if m.get("early_warning") is not None]
        if warn:
            warn_series.append((label, warn))
    charts["loss"] = svg.line_chart(loss_series + val_series, title="Training and validation loss",
                                    x_label="optimizer step", y_label="loss", smoothed=[n for n, _ in loss_series])
    charts["lr"] = svg.line_chart(lr_series, title="Learning rate", x_label="optimizer step", y_label="learning rate")
    charts["early_warning"] = svg.line_chart(warn_series, title="Early-warning forgetting signal",
                                             x_label="optimizer step", y_label="KL from base on general answers, nats/token")
    for r in rounds:
        if r.get("interpolation"):
            charts.update(_interpolation_charts(r, threshold))
    lengths = rounds[-1]["token_lengths"] if rounds else []
    charts["lengths"] = svg.histogram(lengths, title="Token lengths of the training mix", x_label="tokens")
    return charts


def _interpolation_charts(r: dict[str, Any], threshold: float) -> dict[str, str]:
    """Forgetting and domain gain along the path from the base (s = 0) to round ``r``'s weights (s = 1)."""
    points = r["interpolation"]["points"]
    names = list(points[-1]["forgetting"])
    forgetting = [(name, [(p["scale"], p["forgetting"].get(name)) for p in points]) for name in names]
    key = f"interpolation-{r['round']}"
    return {
        f"{key}-forgetting": svg.line_chart(forgetting, title=f"Forgetting along round {r['round']}'s path to the base",
                                            x_label="scale s (0 = base, 1 = fine-tuned)", y_label="forgetting, %",
                                            hline=(threshold, f"threshold {threshold:g}%")),
        f"{key}-domain": svg.line_chart([("domain gain", [(p["scale"], p["domain_gain"]) for p in points])],
                                        title=f"Domain gain along round {r['round']}'s path to the base",
                                        x_label="scale s (0 = base, 1 = fine-tuned)", y_label="domain gain, % relative"),
    }


def render_html(report: dict[str, Any]) -> str:
    template_text = resources.files(__package__).joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    css = resources.files(__package__).joinpath("templates/report.css").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = format_pct
    env.filters["score"] = lambda v: "n/a" if v is None else f"{v:.3f}"
    env.filters["pval"] = lambda v: "n/a" if v is None else f"{v:.3g}"
    env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)
    return env.from_string(template_text).render(report=report, charts=_charts(report), css=css)
