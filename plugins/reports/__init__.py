"""Built-in report renderers: a self-contained HTML page, Markdown for CI, JSON for machines.

Each is a :class:`harness.Reporter` registered through the same hook a
third-party renderer uses, so a plugin can add a format or replace one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import Reporter
from harness.helpers import write_atomic
from harness.hookspecs import hookimpl

from . import view


class _ViewReporter(Reporter):
    """Renders the shared view model (``view.build``) to one file named ``filename``."""

    filename: str

    def text(self, report: dict[str, Any]) -> str:
        raise NotImplementedError

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        path = Path(run_dir) / self.filename
        write_atomic(path, self.text(view.build(results)))
        return [path]


class JsonReporter(_ViewReporter):
    name = "json"
    summary = "results.json: every number in the report, machine-readable (schema harness.results/1)."
    filename = "results.json"

    def text(self, report: dict[str, Any]) -> str:
        return json.dumps(report, indent=2, allow_nan=False) + "\n"


class MarkdownReporter(_ViewReporter):
    name = "markdown"
    summary = "report.md: the verdict and per-round tables, for CI summaries and pull requests."
    filename = "report.md"

    def text(self, report: dict[str, Any]) -> str:
        from .markdown import render_markdown

        return render_markdown(report)


class HtmlReporter(_ViewReporter):
    name = "html"
    summary = "report.html: one self-contained page (inline CSS and SVG charts, no network)."
    filename = "report.html"

    def text(self, report: dict[str, Any]) -> str:
        from .html import render_html

        return render_html(report)


class ModelCardReporter(Reporter):
    name = "model_card"
    summary = ("README.md: a Hub model card beside the chosen weights (front matter with model-index results, "
               "the forgetting table, settings, how to load).")

    def render(self, run_dir: Path, results: dict[str, Any]) -> list[Path]:
        from harness.helpers import write_model_card

        return [write_model_card(Path(run_dir))]


class _ComparisonReporter(Reporter):
    """Renders a strategy comparison's summary (compare.json's dict) to one file."""

    scope = "comparison"
    filename: str

    def text(self, summary: dict[str, Any]) -> str:
        raise NotImplementedError

    def render(self, compare_dir: Path, summary: dict[str, Any]) -> list[Path]:
        path = Path(compare_dir) / self.filename
        write_atomic(path, self.text(summary))
        return [path]


class CompareJsonReporter(_ComparisonReporter):
    name = "compare_json"
    summary = "compare.json: every strategy's numbers, machine-readable (schema harness.strategies.runner/1)."
    filename = "compare.json"

    def text(self, summary: dict[str, Any]) -> str:
        from .strategies import render_json

        return render_json(summary)


class CompareMarkdownReporter(_ComparisonReporter):
    name = "compare_markdown"
    summary = "compare.md: the strategies side by side, for CI summaries and pull requests."
    filename = "compare.md"

    def text(self, summary: dict[str, Any]) -> str:
        from .strategies import render_markdown

        return render_markdown(summary)


class CompareHtmlReporter(_ComparisonReporter):
    name = "compare_html"
    summary = "compare.html: the strategies side by side with charts, one self-contained page."
    filename = "compare.html"

    def text(self, summary: dict[str, Any]) -> str:
        from .strategies import render_html

        return render_html(summary)


@hookimpl
def harness_register_reporters(register):
    register(HtmlReporter)
    register(MarkdownReporter)
    register(JsonReporter)
    register(ModelCardReporter)
    register(CompareJsonReporter)
    register(CompareMarkdownReporter)
    register(CompareHtmlReporter)
