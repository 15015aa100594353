"""``harness compare``: strategies side by side on the deterministic forgetting scenario (tests/scenario.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compare_scenario import STRATEGIES, compare_config, make_harness  # noqa: F401  (fixture)
from harness.strategies.comparison import load_compare, run_comparison
from harness_plugins.reports.strategies import render_markdown, table, write_reports
from scenario import DamageTrainer, scenario  # noqa: F401  (fixture)

TESTS = Path(__file__).resolve().parents[1]  # tests/, where the shared scenarios live


def _table_text(summary: dict) -> list[list[str]]:
    header, rows = table(summary)
    return [header, *rows]


@pytest.mark.slow
def test_three_strategies_locally(compare_config, tmp_path):
    spec = load_compare(compare_config(STRATEGIES), make_harness())
    summary = run_comparison(spec, tmp_path / "cmp", harness_factory=make_harness, progress=False)
    by_name = {s["name"]: s for s in summary["strategies"]}
    assert [round(by_name[n]["worst_forgetting_pct"], 6) for n in STRATEGIES] == [22.0, 12.0, 2.0]
    assert [by_name[n]["passed"] for n in STRATEGIES] == [False, False, True]
    assert all(by_name[n]["domain_gain_pct"] == pytest.approx(100.0) for n in STRATEGIES)  # 0.40 -> 0.80
    assert all(by_name[n]["cost"]["rounds"] == 1 for n in STRATEGIES)  # trained once each: max_rounds 1
    assert DamageTrainer.calls == [1, 1, 1]
    assert summary["recommendation"]["strategy"] == "mix_40"
    # One base evaluation for all: every strategy folder holds the same base results.
    shared = (tmp_path / "cmp" / "base" / "eval.json").read_text()
    assert all((tmp_path / "cmp" / "strategies" / n / "base" / "eval.json").read_text() == shared for n in STRATEGIES)

    header, rows = table(summary)
    assert header == ["benchmark", "n", "base model", "no_mitigation", "mix_20", "mix_40"]
    assert rows[0][:3] == ["test_domain (domain)", "100", "0.400"]
    assert rows[0][3].startswith("0.800 (+100.0% [")
    assert rows[1][:3] == ["test_general", "100", "1.000"]
    assert rows[1][3].startswith("0.780 (-22.0% [") and rows[1][3].endswith("⚠")
    assert rows[1][5].startswith("0.980 (-2.0% [") and rows[1][5].endswith("✓")
    assert rows[-1] == ["verdict", "", "", "FAIL", "FAIL", "PASS"]

    written = write_reports(tmp_path / "cmp", summary)
    assert [p.name for p in written] == ["compare.json", "compare.md", "compare.html"]
    html = (tmp_path / "cmp" / "compare.html").read_text()
    assert html.count("<svg") == 3 and "Recommended: <strong>mix_40</strong>" in html
    assert "passes" in html  # the shaded pass region of the trade-off chart
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    markdown = (tmp_path / "cmp" / "compare.md").read_text()
    assert "**Recommendation:** mix_40:" in markdown
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["schema"] == "harness.strategies.runner/1"


@pytest.mark.slow
def test_ray_executor_gives_the_same_table(compare_config, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    spec = load_compare(compare_config(STRATEGIES), make_harness())
    local = run_comparison(spec, tmp_path / "local", harness_factory=make_harness, progress=False)

    # Workers inherit the environment at ray.init: the test modules, and a fresh evaluation
    # cache so the Ray run computes everything itself rather than reading the local run's results.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "ray-cache"))
    # address="local": a new instance even where another process left a cluster running
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = run_comparison(spec, tmp_path / "ray", executor="ray", harness_factory=make_harness, progress=False)
    finally:
        ray.shutdown()
    assert distributed["executor"] == "ray" and all(s["status"] == "done" for s in distributed["strategies"])
    assert _table_text(distributed) == _table_text(local)
    assert (tmp_path / "ray-cache").is_dir()  # the workers evaluated with their own cache


def test_a_failing_strategy_does_not_lose_the_others_and_resume_skips_finished(compare_config, tmp_path):
    strategies = {"mix_20": STRATEGIES["mix_20"], "broken": {"trainer": "test_broken"}}
    spec = load_compare(compare_config(strategies), make_harness())
    summary = run_comparison(spec, tmp_path / "cmp", harness_factory=make_harness, progress=False)
    status = {s["name"]: s["status"] for s in summary["strategies"]}
    assert status == {"mix_20": "done", "broken": "failed"}
    broken_dir = tmp_path / "cmp" / "strategies" / "broken"
    error = json.loads((broken_dir / "error.json").read_text())
    assert "simulated out-of-memory" in error["error"]
    assert "RuntimeError" in (broken_dir / "traceback.txt").read_text()
    assert table(summary)[1][-1] == ["verdict", "", "", "FAIL", "FAILED"]
    assert "| broken | test_broken | failed: RuntimeError: simulated out-of-memory" in render_markdown(summary)
    # mix_20 forgets 12%: nothing passes, and the report says so rather than crowning the least bad.
    rec = summary["recommendation"]
    assert rec["strategy"] is None and not rec["passed"]
    assert "no strategy passes the 5% forgetting threshold; the closest is mix_20 (worst forgetting 12.0%)" in rec["reason"]
    assert "No strategy passes" in write_reports(tmp_path / "cmp", summary)[2].read_text()

    # Resume: the finished strategy is not retrained; the failed one is tried again.
    DamageTrainer.calls = []
    verdict = tmp_path / "cmp" / "strategies" / "mix_20" / "verdict.json"
    before = verdict.stat().st_mtime_ns
    again = run_comparison(spec, tmp_path / "cmp", resume=True, harness_factory=make_harness, progress=False)
    assert DamageTrainer.calls == [] and verdict.stat().st_mtime_ns == before
    assert [s["status"] for s in again["strategies"]] == ["done", "failed"]
    with pytest.raises(Exception, match="already holds a comparison"):
        run_comparison(spec, tmp_path / "cmp", harness_factory=make_harness, progress=False)


def test_invalid_strategies_are_all_named_before_anything_loads(compare_config, tmp_path):
    path = compare_config({
        "ok": STRATEGIES["mix_20"],
        "bad_lr": {"learning_rate": -1},
        "bad_ewc": {"trainer": {"name": "ewc", "ewc_lamda": 0.4}},
        "other_items": {"benchmarks": {"limit": 5}},
    })
    with pytest.raises(Exception) as info:
        load_compare(path, make_harness())
    message = str(info.value)
    assert "strategies.bad_lr: learning_rate" in message
    assert "strategies.bad_ewc: trainer.ewc_lamda: unknown key; did you mean 'ewc_lambda'?" in message
    assert "strategies.other_items.benchmarks: must be the same for every strategy" in message
    assert "strategies.ok" not in message


def test_cli_exit_code_2_names_strategy_and_key(tmp_path, tiny_model_dir):
    config = {"base_model": str(tiny_model_dir), "datasets": [{"path": "domain.jsonl"}],
              "strategies": {"lower_lr": {"learning_rate": 1e-4, "lora_dropout": 1.5}}}
    path = tmp_path / "compare.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(path), "--compare-dir",
                           str(tmp_path / "cmp")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "strategies.lower_lr: lora_dropout" in done.stderr
    assert not (tmp_path / "cmp").exists()  # nothing was started


def test_a_strategy_that_passes_without_a_significant_domain_gain_is_not_recommended():
    from harness.strategies.summary import recommend

    def strategy(name, passed, domain_status, gain):
        return {"name": name, "status": "done", "passed": passed, "domain_names": ["domain"],
                "cells": {"domain": {"status": domain_status}}, "domain_gain_pct": gain,
                "average_forgetting_pct": 1.0, "worst_forgetting_pct": 1.0 if passed else 9.0}

    rec = recommend([strategy("ewc", True, "no significant change", 0.0),
                     strategy("no_mitigation", False, "gain", 36.0)], 5.0)
    assert rec["strategy"] is None and not rec["passed"]
    assert "ewc passes" in rec["reason"] and "no_mitigation gains but does not pass" in rec["reason"]
    rec = recommend([strategy("ewc", True, "no significant change", 0.0), strategy("mix", True, "gain", 20.0)], 5.0)
    assert rec["strategy"] == "mix"
