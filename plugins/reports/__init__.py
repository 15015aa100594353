"""Built-in report renderers: a self-contained HTML page, Markdown for CI, JSON for machines.

Each is a :class:`harness.api.Reporter` registered through the same hook a
third-party renderer uses, so a plugin can add a format or replace one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.api import Reporter
from harness.hookspecs import hookimpl
from harness.rundir import write_atomic

from . import view


class JsonReporter(Reporter):
    name = "json"
    summary = "results.json: every number in the report, machine-readable (schema harness.results/1)."

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        path = Path(run_dir) / "results.json"
        write_atomic(path, json.dumps(view.build(results), indent=2, allow_nan=False) + "\n")
        return [path]


class MarkdownReporter(Reporter):
    name = "markdown"
    summary = "report.md: the verdict and per-round tables, for CI summaries and pull requests."

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        from .markdown import render_markdown

        path = Path(run_dir) / "report.md"
        write_atomic(path, render_markdown(view.build(results)))
        return [path]


class HtmlReporter(Reporter):
    name = "html"
    summary = "report.html: one self-contained page (inline CSS and SVG charts, no network)."

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        from .html import render_html

        path = Path(run_dir) / "report.html"
        write_atomic(path, render_html(view.build(results)))
        return [path]


@hookimpl
def harness_register_reporters(register):
    register(HtmlReporter)
    register(MarkdownReporter)
    register(JsonReporter)
