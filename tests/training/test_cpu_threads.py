"""torch's CPU threads spin between operators in the commands that compute, and only in their own process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from harness import cli, cpu_threads

# Spins only where torch's threads run alone on a CPU machine; tests of the effect need two cores.
needs_cpu_machine = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not cpu_threads.spinning_allowed({}),
    reason="needs 2 cores and no GPU")

PROBE = textwrap.dedent("""
    import json, os, subprocess, sys, time
    from harness.cpu_threads import import_torch_with_spinning_threads
    applied = import_torch_with_spinning_threads() if sys.argv[1] == "spin" else False
    import torch
    torch.set_num_threads(2)
    x = torch.randn(512, 512)
    for _ in range(5):
        x @ x  # a parallel region: the second thread runs it, then waits
    start = time.process_time()
    time.sleep(0.5)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                           capture_output=True, text=True).stdout.strip()
    print(json.dumps({"applied": applied, "busy": time.process_time() - start,
                      "policy": os.environ.get("OMP_WAIT_POLICY"), "child": child}))
""")


def _probe(mode: str) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k not in cpu_threads.USER_SETTINGS}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@needs_cpu_machine
def test_the_threads_spin_in_this_process_and_no_child_inherits_the_setting():
    spinning, plain = _probe("spin"), _probe("plain")
    assert spinning["applied"] is True and plain["applied"] is False
    # While the main thread sleeps, a spinning worker keeps using a core; a sleeping one does not.
    assert spinning["busy"] > 0.2 and plain["busy"] < 0.1, (spinning, plain)
    assert spinning["policy"] is None and spinning["child"] == "None"


def test_it_stays_out_of_the_way_of_user_settings_launchers_and_gpus(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_threads, "GPU_DEVICE_NODES", (str(tmp_path / "no-such-device"),))
    assert cpu_threads.spinning_allowed({})
    assert cpu_threads.spinning_allowed({"LOCAL_WORLD_SIZE": "1"})
    assert not cpu_threads.spinning_allowed({"OMP_WAIT_POLICY": "PASSIVE"})  # the user's opt-out
    assert not cpu_threads.spinning_allowed({"GOMP_SPINCOUNT": "1000"})
    assert not cpu_threads.spinning_allowed({"LOCAL_WORLD_SIZE": "2"})  # ranks share the cores
    assert not cpu_threads.spinning_allowed({"LOCAL_WORLD_SIZE": "two"})
    (tmp_path / "nvidiactl").touch()
    monkeypatch.setattr(cpu_threads, "GPU_DEVICE_NODES", (str(tmp_path / "nvidiactl"),))
    assert not cpu_threads.spinning_allowed({})
    # torch is loaded in this test process already: too late, and nothing is changed
    assert cpu_threads.import_torch_with_spinning_threads() is False and "OMP_WAIT_POLICY" not in os.environ


def test_only_the_commands_that_compute_start_torch_that_way(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "import_torch_with_spinning_threads", lambda: calls.append(True))
    assert cli.main(["gate", str(tmp_path / "missing.json")]) == 2
    assert calls == []
    assert cli.main(["train", str(tmp_path / "missing.yml")]) == 2
    assert calls == [True]
    assert cli.COMPUTING_COMMANDS <= set(cli.build_parser()._subparsers._group_actions[0].choices)
