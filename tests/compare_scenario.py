"""Plugins and a harness factory for the comparison tests, importable by Ray worker processes.

Strategies differ only in the general share the deterministic damage trainer
(tests/scenario.py) sees, so each strategy's forgetting is known exactly:
22% with no mitigation, 12% at a 20% share, 2% at 40%.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from harness import ComponentOptions, Trainer
from harness.hookspecs import hookimpl
from harness.plugins import Harness, load_harness
from scenario import DamageTrainer, ScenarioPlugin

STRATEGIES = {
    "no_mitigation": {"mitigation": {"schedule": [0.0]}},
    "mix_20": {"mitigation": {"schedule": [0.2]}},
    "mix_40": {"mitigation": {"schedule": [0.4]}},
}


class BrokenTrainer(Trainer):
    name = "test_broken"

    def train(self, request):
        raise RuntimeError("simulated out-of-memory in the broken strategy")


class GateOptions(ComponentOptions):
    gate: str  # a folder the test watches and opens
    wait_s: float = 120.0


class GatedTrainer(DamageTrainer):
    """The damage trainer, held until the test opens the gate: a strategy caught mid-run on a known node.

    Each attempt writes ``GATE/started-<pid>.json`` (node id, run folder), then waits
    for ``GATE/open`` before training.
    """

    name = "test_gated"
    Options = GateOptions

    def train(self, request):
        import ray

        gate = Path(self.options.gate)
        marker = {"node_id": ray.get_runtime_context().get_node_id(), "output_dir": str(request.output_dir)}
        (gate / f"started-{os.getpid()}-{time.monotonic_ns()}.json").write_text(json.dumps(marker))
        deadline = time.monotonic() + self.options.wait_s
        while not (gate / "open").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the test never opened {gate}")
            time.sleep(0.2)
        return super().train(request)


class BrokenPlugin:
    @hookimpl
    def harness_register_trainers(self, register):
        register(BrokenTrainer)
        register(GatedTrainer)


def make_harness() -> Harness:
    return load_harness(extra_plugins=[ScenarioPlugin(), BrokenPlugin()])


@pytest.fixture
def compare_config(scenario, tmp_path):
    """A compare config whose base is the scenario's run config (``base:`` form)."""

    def make(strategies: dict, **extra) -> Path:
        run_config, _ = scenario("schedule")
        path = tmp_path / "compare.yml"
        path.write_text(yaml.safe_dump({"base": run_config.name, "strategies": strategies, **extra}, sort_keys=False))
        return path

    return make
