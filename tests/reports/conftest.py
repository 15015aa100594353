"""The finished run the report and publishing tests read: the scenario loop run to its chosen round."""

from __future__ import annotations

import pytest

from harness.loop import rounds as loop
from scenario import scenario  # noqa: F401  (fixture)


@pytest.fixture
def finished_run(scenario, tmp_path):
    """A run that retrained twice and passed at round 3 (the ``schedule`` scenario): (run folder, harness)."""
    config, harness = scenario("schedule")
    loop.run(config, harness, tmp_path / "run", progress=False)
    return tmp_path / "run", harness
