"""Plugins and a harness factory for the comparison tests, importable by Ray worker processes.

Strategies differ only in the general share the deterministic damage trainer
(tests/scenario.py) sees, so each strategy's forgetting is known exactly:
22% with no mitigation, 12% at a 20% share, 2% at 40%.
"""

from __future__ import annotations

from harness.api import Trainer
from harness.hookspecs import hookimpl
from harness.plugins import Harness, load_harness
from scenario import ScenarioPlugin


class BrokenTrainer(Trainer):
    name = "test_broken"

    def train(self, request):
        raise RuntimeError("simulated out-of-memory in the broken strategy")


class BrokenPlugin:
    @hookimpl
    def harness_register_trainers(self, register):
        register(BrokenTrainer)


def make_harness() -> Harness:
    return load_harness(extra_plugins=[ScenarioPlugin(), BrokenPlugin()])
