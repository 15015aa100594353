"""Harness scores equal the lm-eval CLI's on the same task definition, model and items (real model)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "eval_speed.py"


@pytest.mark.slow
def test_offline_suite_accuracy_matches_the_lm_eval_cli_on_smollm2():
    spec = importlib.util.spec_from_file_location("eval_speed", BENCH)
    eval_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_speed)
    report = eval_speed.compare("smollm2-135m-instruct", ["offline_arc_easy", "offline_piqa"],
                                limit=30, seed=1234, batch_size=8, dtype="bfloat16")
    for task, row in report["tasks"].items():
        assert row["n"] == 30
        assert abs(row["harness"] - row["cli"]) <= 0.5, (task, row)
