"""Reports: rendered from the run folder alone, self-contained, schema-valid, clean in a real browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from harness.plugins import load_harness
from harness.loop.reporting import render_reports

SCHEMA = Path(__file__).resolve().parents[2] / "plugins" / "reports" / "results.schema.json"


def test_every_format_renders(finished_run):
    run_dir, harness = finished_run
    written = render_reports(harness, run_dir)
    assert sorted(p.name for p in written) == ["README.md", "report.html", "report.md", "results.json"]  # README: the card
    html = (run_dir / "report.html").read_text()
    assert "PASS: every informative general benchmark must degrade less than 5.0%" in html
    assert html.count("<svg") >= 3  # forgetting bars, trade-off scatter, loss curve at least
    assert "Round 3: general share 40%" in html and "(chosen)" in html
    markdown = (run_dir / "report.md").read_text()
    assert markdown.startswith("# Forgetting report: PASS")
    assert "| test_general | general | 100 | 1.000 | 0.880 | -12.0% |" in markdown


@pytest.mark.slow
def test_html_is_self_contained(finished_run):
    run_dir, harness = finished_run
    render_reports(harness, run_dir, ["html"])
    html = (run_dir / "report.html").read_text()
    # The only URL allowed is the SVG namespace, which is an identifier, not a request.
    urls = set(re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", html)) | set(re.findall(r"url\(([^)]+)\)", html))
    assert urls == set()
    assert "<script" not in html and "<link" not in html


def test_rerender_gives_the_same_report_without_recomputing(finished_run, monkeypatch):
    run_dir, harness = finished_run
    render_reports(harness, run_dir)
    first = {name: (run_dir / name).read_bytes() for name in ("report.html", "report.md", "results.json")}
    # Nothing may be recomputed: make evaluation and model loading impossible.
    import harness.evaluation.scoring as evaluation
    import harness.models.loading as models

    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: pytest.fail("re-render evaluated a model"))
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("re-render loaded a model"))
    render_reports(load_harness(), run_dir)
    assert {name: (run_dir / name).read_bytes() for name in first} == first


def test_the_verdict_file_matches_the_schema_generated_from_its_record(finished_run, tmp_path):
    """verdict.json is written through harness.run_record.RunVerdict; its JSON schema is generated from
    that record, so a tool outside harness can check a verdict; and a file the record refuses is exit 2
    at the gate, naming the field."""
    jsonschema = pytest.importorskip("jsonschema")
    from harness.cli import main
    from harness.run_record import RunVerdict, json_schema

    run_dir, _ = finished_run
    saved = json.loads((run_dir / "verdict.json").read_text())
    jsonschema.Draft202012Validator(json_schema()).validate(saved)
    verdict = RunVerdict.model_validate(saved)
    assert verdict.chosen().round == saved["chosen_round"] == 3
    assert verdict.chosen().forgetting["test_general"].n == 100
    broken = dict(saved, rounds=[{**saved["rounds"][0], "forgetting": {"test_general": {"benchmark": "test_general"}}}],
                  chosen_round=1)
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert main(["gate", str(tmp_path / "broken.json")]) == 2
    old = {k: v for k, v in saved.items() if k not in ("status", "judging", "timings", "environment")}
    old["rounds"] = [{k: v for k, v in r.items() if k not in ("status", "reasons", "method")} for r in saved["rounds"]]
    (tmp_path / "old.json").write_text(json.dumps(old))  # a verdict saved before those fields existed
    assert main(["gate", str(tmp_path / "old.json")]) == 0


def test_results_json_matches_its_schema(finished_run):
    jsonschema = pytest.importorskip("jsonschema")
    run_dir, harness = finished_run
    render_reports(harness, run_dir, ["json"])
    results = json.loads((run_dir / "results.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(results)
    assert results["verdict"]["chosen_round"] == 3
    general = results["rounds"][0]["general"][0]
    assert general["n"] == 100 and general["forgetting_pct"] == pytest.approx(12.0)
    lo, hi = general["forgetting_ci_pct"]
    assert lo <= 12.0 <= hi


@pytest.mark.slow
def test_report_opens_in_chromium_without_errors_or_requests(finished_run):
    """A real browser: no console errors, no network requests; a screenshot is saved beside the report."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed and could not be installed here (apt package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    run_dir, harness = finished_run
    (report,) = render_reports(harness, run_dir, ["html"])
    errors, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(run_dir / "report.png"), full_page=True)
        title = page.title()
        browser.close()
    assert errors == []
    assert requests == [report.resolve().as_uri()]  # the page itself, nothing else
    assert "PASS" in title
    assert (run_dir / "report.png").stat().st_size > 10_000


def test_training_loss_is_drawn_as_a_moving_average_over_faint_raw_points():
    from harness_plugins.reports import svg

    zigzag = [(step, 1.0 if step % 2 else 3.0) for step in range(1, 41)]
    smooth = svg.moving_average(zigzag, 4)
    assert all(abs(y - 2.0) < 1e-9 for _, y in smooth[4:])  # the alternation averages out
    chart = svg.line_chart([("train", zigzag)], title="t", x_label="x", y_label="y", smoothed=["train"])
    assert chart.count("<polyline") == 2 and 'stroke-opacity="0.25"' in chart


@pytest.mark.slow
def test_where_forgetting_happened_per_group_with_cis_paired_by_item(finished_run):
    """breakdown.json per round: each group's CI is the paired comparison of that group's saved items."""
    import yaml

    from harness.evaluation import stats
    from harness.loop.rundir import RunFolder
    from scenario import subject_of

    run_dir, harness = finished_run
    folder = RunFolder(run_dir)
    files = folder.round(1)
    saved = files.read("breakdown")["benchmarks"]["test_general"]
    assert [g["group"] for g in saved["groups"]] == ["algebra", "biology", "chemistry", "zoology"]
    algebra = saved["groups"][0]
    assert algebra["n"] == 20 and algebra["relative"] == pytest.approx(60.0)  # all 12 lost items are algebra
    assert [g["too_few_items"] for g in saved["groups"]] == [False, False, False, True]
    base, cand = folder.load_results(files.base_eval)["test_general"], folder.load_results(files.eval)["test_general"]
    keep = lambda r: type(r)(r.benchmark, r.metric, [i for i in r.items if subject_of(i.item_id) == "algebra"])  # noqa: E731
    config = yaml.safe_load(folder.config.read_text())
    expected = stats.paired_comparison(keep(base), keep(cand), confidence=config["forgetting"]["confidence"],
                                       samples=config["forgetting"]["bootstrap_samples"], seed=config["benchmarks"]["seed"])
    assert algebra["relative_ci"] == {"low": expected.relative_ci.low, "high": expected.relative_ci.high}
    flips = saved["flips"]
    assert [f["item_id"] for f in flips["right_to_wrong"]] == sorted(f"q{i}" for i in range(12))
    assert flips["right_to_wrong"][0] == {"item_id": "q0", "group": "algebra", "text": "Question q0?",
                                          "answer": "answer q0", "base": 1.0, "candidate": 0.0}
    assert flips["wrong_to_right"] == 0

    render_reports(harness, run_dir)
    html = (run_dir / "report.html").read_text()
    assert "<h2>Where forgetting happened</h2>" in html
    assert '<td>algebra</td><td>20</td><td>1.000</td><td>0.400</td><td class="fail"' in html  # round 1: flagged
    assert "too few items to say" in html and "12 item(s) flipped right &rarr; wrong" in html
    assert '<div class="item-text">Question q11?</div>' in html
    markdown = (run_dir / "report.md").read_text()
    assert "### Where forgetting happened" in markdown
    assert "| algebra | 20 | 1.000 | 0.400 | **+60.0%** |" in markdown
    assert "test_general 12 right -> wrong (0 wrong -> right)" in markdown
    results = json.loads((run_dir / "results.json").read_text())
    group = results["rounds"][0]["breakdown"][0]["groups"][0]
    assert group["group"] == "algebra" and group["above_threshold"] is True
    assert results["rounds"][2]["breakdown"][0]["groups"][0]["above_threshold"] is False  # 2 of 20: CI reaches 0


@pytest.mark.slow
def test_a_run_saved_before_breakdowns_still_renders(finished_run):
    jsonschema = pytest.importorskip("jsonschema")
    run_dir, harness = finished_run
    for path in run_dir.glob("rounds/round-*/breakdown.json"):
        path.unlink()
    render_reports(harness, run_dir)
    html = (run_dir / "report.html").read_text()
    assert "Not recorded for this round" in html and "flipped right" not in html
    assert "Where forgetting happened" not in (run_dir / "report.md").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(results)
    assert all(r["breakdown"] == [] for r in results["rounds"])
