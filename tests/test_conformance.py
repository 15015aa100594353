"""The conformance checks in harness.testing pass for the built-in trainers and benchmarks.

The same checks are what a third-party plugin author runs on their own plugin.
"""

import pytest

from harness.models.loading import load_model
from harness.testing import check_benchmark, check_trainer


@pytest.mark.parametrize("name", ["lora", "full", "ewc"])
def test_builtin_trainers_conform(name, harness_app, tiny_model_dir, tmp_path):
    record = check_trainer(harness_app.trainer(name), tiny_model_dir, tmp_path)
    assert record.is_adapter == (name != "full")


@pytest.mark.parametrize("name", ["domain_mc", "offline_arc_easy"])
def test_builtin_benchmarks_conform(name, harness_app, tiny_model_dir):
    model = load_model(str(tiny_model_dir), dtype="float32")
    cls = harness_app.benchmark(name)
    check_benchmark(cls(cls.Options()), model)
