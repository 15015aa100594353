"""``harness compare --executor ray`` on a real two-node Ray cluster (``ray.cluster_utils.Cluster``).

Each node runs its tasks in its own scratch folder; the driver gets every run
folder back as data. The cluster tests are slow (worker processes import torch);
the gathering and scheduling rules underneath are checked fast, without Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from compare_scenario import STRATEGIES, compare_config, make_harness  # noqa: F401  (fixture)
from harness import UsageError
from harness.loop.rundir import RunFolder
from harness.strategies.comparison import load_compare, run_comparison
from harness.strategies.gather import pack, unpack
from harness.strategies.ray_executor import feasible
from harness.strategies.ray_settings import TaskResources
from scenario import scenario  # noqa: F401  (fixture)

TESTS = Path(__file__).resolve().parents[1]  # tests/, where the shared scenarios live


# ------------------------------------------------------------------ fast: no Ray


def test_pack_keeps_records_and_small_files_and_unpack_retargets_paths(tmp_path):
    work = tmp_path / "node" / "work-1234"
    run = work / "strategies" / "s"
    (run / "rounds" / "round-1" / "train" / "adapter").mkdir(parents=True)
    (run / "verdict.json").write_text(json.dumps({"run_dir": str(run), "big": "x" * 5000}))
    (run / "rounds" / "round-1" / "COMPLETE").write_text("")
    (run / "rounds" / "round-1" / "train" / "adapter" / "adapter_model.safetensors").write_bytes(b"a" * 100)
    (run / "rounds" / "round-1" / "train" / "model.safetensors").write_bytes(b"w" * 2000)
    payload = pack(run, max_bytes=1000)
    assert sorted(payload["files"]) == [  # the record comes back whatever its size
        "rounds/round-1/COMPLETE", "rounds/round-1/train/adapter/adapter_model.safetensors", "verdict.json"]
    assert payload["left_on_node"] == [{"path": "rounds/round-1/train/model.safetensors", "bytes": 2000}]

    compare_dir = tmp_path / "driver" / "cmp"
    dest = compare_dir / "strategies" / "s"
    dest.mkdir(parents=True)
    (dest / "error.json").write_text("{}")  # from an earlier failed attempt: replaced, not merged
    unpack(payload, dest, node={"node_id": "n1", "hostname": "h", "ip": "1.2.3.4"},
           old_root=str(work), new_root=str(compare_dir))
    assert json.loads((dest / "verdict.json").read_text())["run_dir"] == str(dest)
    assert not (dest / "error.json").exists() and not list(dest.parent.glob(".s.*"))
    node = json.loads(RunFolder(dest).node.read_text())
    assert node["node_id"] == "n1" and node["left_on_node"][0]["path"].endswith("model.safetensors")
    with pytest.raises(ValueError, match="not a relative path"):
        unpack({"root": "/x", "files": {"../escape": b""}, "left_on_node": []}, tmp_path / "d")


def test_feasible_reads_live_nodes_resources_and_labels():
    nodes = [{"Alive": False, "Resources": {"CPU": 4, "worker": 1}, "Labels": {"role": "worker"}},
             {"Alive": True, "Resources": {"CPU": 1, "head": 1}, "Labels": {"role": "head"}}]
    assert feasible(TaskResources(), 0, nodes)
    assert not feasible(TaskResources(resources={"worker": 1}), 0, nodes)  # only on the dead node
    assert not feasible(TaskResources(), 1, nodes)  # no GPU anywhere
    assert feasible(TaskResources(label_selector={"role": "in(head,other)"}), 0, nodes)
    assert not feasible(TaskResources(label_selector={"role": "!head"}), 0, nodes)


def test_bad_ray_settings_exit_2_naming_the_key(compare_config):
    path = compare_config({"a": {**STRATEGIES["mix_20"], "ray": {"max_retries": -1, "resources": {"gpu_x": 0}}},
                           "b": {"ray": {"adress": "auto"}}},
                          ray={"max_retries": "twice", "gather_max_mb": -5})
    with pytest.raises(UsageError) as info:
        load_compare(path, make_harness())
    message = str(info.value)
    assert "ray.max_retries: Input should be a valid integer" in message
    assert "ray.gather_max_mb: Input should be greater than or equal to 0" in message
    assert "strategies.a.ray.max_retries: Input should be greater than or equal to 0" in message
    assert "strategies.a.ray.resources: Value error, custom resource amounts must be > 0" in message
    assert "strategies.b.ray.adress: unknown key" in message
    # Valid: a strategy's ray: key is its task's request, merged over the defaults, not a run-config key.
    path = compare_config({"a": {**STRATEGIES["mix_20"], "ray": {"num_gpus": 0, "resources": {"x": 1}}}, "b": {}},
                          ray={"max_retries": 2, "num_cpus": 0.5})
    spec = load_compare(path, make_harness())
    assert spec.overrides["a"] == STRATEGIES["mix_20"]
    assert spec.ray.task("a").ray_options(1) == {"num_cpus": 0.5, "num_gpus": 0, "max_retries": 2,
                                                 "retry_exceptions": False, "resources": {"x": 1}}
    assert spec.ray.task("b").ray_options(1)["num_gpus"] == 1  # default: the driver machine's CUDA


def test_cli_exits_2_on_a_bad_ray_setting(tmp_path, tiny_model_dir):
    config = {"base_model": str(tiny_model_dir), "datasets": [{"path": "domain.jsonl"}],
              "ray": {"max_retries": -1}, "strategies": {"a": {}, "b": {"ray": {"num_gpu": 1}}}}
    path = tmp_path / "compare.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(path), "--executor", "ray",
                           "--compare-dir", str(tmp_path / "cmp")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "ray.max_retries: Input should be greater than or equal to 0" in done.stderr
    assert "strategies.b.ray.num_gpu: unknown key; did you mean 'num_gpus'?" in done.stderr
    assert not (tmp_path / "cmp").exists()


# ------------------------------------------------------------- slow: a real cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node (1 CPU, resource ``head``, label harness-node=head), the test process as its driver.

    Nodes start their worker processes with this environment: the test modules on
    PYTHONPATH, and one evaluation cache for the module.
    """
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]))
        env.setenv("HARNESS_CACHE", str(tmp_path_factory.mktemp("ray-cache")))
        made = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "resources": {"head": 1}, "labels": {"harness-node": "head"},
            "include_dashboard": False,
            # A killed node is declared dead in seconds, not half a minute.
            "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 5,
                               "health_check_initial_delay_ms": 0}})
        try:
            ray.init(address=made.address, log_to_driver=False)
            yield made
        finally:
            ray.shutdown()
            made.shutdown()


@pytest.fixture
def worker(cluster):
    """A second node (1 CPU, resource ``worker``, label harness-node=worker), removed after the test."""
    node = cluster.add_node(num_cpus=1, resources={"worker": 1}, labels={"harness-node": "worker"})
    cluster.wait_for_nodes()
    try:
        yield node
    finally:
        if node in cluster.worker_nodes:
            cluster.remove_node(node)


def _node_record(compare_dir: Path, name: str) -> dict:
    return json.loads(RunFolder(compare_dir / "strategies" / name).node.read_text())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_nodes_spread_by_declared_resources_and_gather_to_the_driver(cluster, worker, compare_config, tmp_path):
    scratch = tmp_path / "scratch"  # each node works under scratch/<its node id>/; the driver never looks there
    strategies = {"no_mitigation": {**STRATEGIES["no_mitigation"], "ray": {"resources": {"head": 1}}},
                  "mix_40": {**STRATEGIES["mix_40"], "ray": {"label_selector": {"harness-node": "worker"}}}}
    path = compare_config(strategies, ray={"scratch": str(scratch), "gather_max_mb": 1})
    spec = load_compare(path, make_harness())
    compare_dir = tmp_path / "driver" / "cmp"
    summary = run_comparison(spec, compare_dir, executor="ray", harness_factory=make_harness, progress=False)

    by_name = {s["name"]: s for s in summary["strategies"]}
    assert [by_name[n]["status"] for n in strategies] == ["done", "done"]
    assert [round(by_name[n]["worst_forgetting_pct"], 6) for n in strategies] == [22.0, 2.0]
    assert summary["recommendation"]["strategy"] == "mix_40"
    head_id, worker_id = cluster.head_node.node_id, worker.node_id
    nodes = {n: _node_record(compare_dir, n) for n in strategies}
    assert nodes["no_mitigation"]["node_id"] == head_id and nodes["mix_40"]["node_id"] == worker_id
    assert by_name["mix_40"]["node"]["node_id"] == worker_id  # compare.json says where each ran
    for name, node in nodes.items():
        assert Path(node["scratch"]).is_relative_to(scratch / node["node_id"][:16])
        run = compare_dir / "strategies" / name
        # Records came back (the summary above read them); the 25 MB weights stayed on the node.
        assert (run / "verdict.json").is_file() and (run / "rounds" / "round-1" / "COMPLETE").is_file()
        assert (run / "rounds" / "round-1" / "train" / "model" / "config.json").is_file()
        assert [f["path"] for f in node["left_on_node"]] == ["rounds/round-1/train/model/model.safetensors"]
        assert not (run / "rounds" / "round-1" / "train" / "model" / "model.safetensors").exists()
        assert (Path(node["scratch"]) / node["left_on_node"][0]["path"]).is_file()
        # Paths the task wrote name the driver's folder, not the node's scratch.
        verdict = (run / "verdict.json").read_text()
        assert str(run) in verdict and str(scratch) not in verdict
    assert (compare_dir / "base" / "eval.json").is_file()
    assert not list(scratch.glob("*/base-*"))  # the base task cleaned up after itself


def _run_in_background(**kwargs) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["summary"] = run_comparison(**kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised by the test
            out["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def _wait_for(condition, what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def _started(gate: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(gate.glob("started-*.json"))]


def _strategy_of(marker: dict) -> str:
    return Path(marker["output_dir"]).parts[-4]  # .../strategies/<name>/rounds/round-1/train


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_lost_node_retries_its_strategy_elsewhere_or_fails_it_clearly(cluster, worker, compare_config, tmp_path):
    """Kill the worker node while strategies run on both nodes.

    ``left``/``right`` ask for any 1 CPU, so one runs on each node; the one on the
    worker is retried on the head (max_retries 1). ``pinned`` (0 CPUs, the worker's
    resource) and ``no_retry`` (max_retries 0) were on the worker too: one cannot
    run anywhere else, the other may not retry; both fail clearly. (Ray fails a task
    whose node died within seconds; the 10 s before ``pinned`` counts as unschedulable
    leave it that time.)
    """
    gate = tmp_path / "gate"
    gate.mkdir()
    gated = {"name": "test_gated", "gate": str(gate)}
    strategies = {
        "left": {**STRATEGIES["mix_20"], "trainer": gated},
        "right": {**STRATEGIES["mix_40"], "trainer": gated},
        "pinned": {**STRATEGIES["mix_40"], "trainer": gated, "ray": {"num_cpus": 0, "resources": {"worker": 1}}},
        "no_retry": {**STRATEGIES["mix_40"], "trainer": gated,
                     "ray": {"num_cpus": 0, "label_selector": {"harness-node": "worker"}, "max_retries": 0}},
    }
    path = compare_config(strategies, ray={"scratch": str(tmp_path / "scratch"), "max_retries": 1,
                                           "unschedulable_timeout_s": 10})
    spec = load_compare(path, make_harness())
    compare_dir = tmp_path / "cmp"
    thread, out = _run_in_background(spec=spec, compare_dir=compare_dir, executor="ray",
                                     harness_factory=make_harness, progress=False)
    _wait_for(lambda: len(_started(gate)) == 4 or "error" in out, "all four strategies to reach training")
    assert "error" not in out, out.get("error")
    where = {_strategy_of(m): m["node_id"] for m in _started(gate)}
    head_id, worker_id = cluster.head_node.node_id, worker.node_id
    assert where["pinned"] == where["no_retry"] == worker_id
    assert sorted([where["left"], where["right"]]) == sorted([head_id, worker_id])  # one on each node
    moved = "left" if where["left"] == worker_id else "right"

    cluster.remove_node(worker, allow_graceful=False)  # the node dies mid-run
    (gate / "open").touch()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the comparison did not finish after the node died"
    assert "error" not in out, out.get("error")
    by_name = {s["name"]: s for s in out["summary"]["strategies"]}

    assert by_name["left"]["status"] == by_name["right"]["status"] == "done"
    assert _node_record(compare_dir, moved)["node_id"] == head_id  # retried on the node that is left
    assert [_strategy_of(m) for m in _started(gate)].count(moved) == 2  # two attempts
    assert round(by_name["right"]["worst_forgetting_pct"], 6) == 2.0
    # Everything came back from the head (100 MB cap), so nothing of this comparison is left there.
    assert not (tmp_path / "scratch" / head_id[:16]).exists()

    no_retry = json.loads(RunFolder(compare_dir / "strategies" / "no_retry").error.read_text())
    assert by_name["no_retry"]["status"] == "failed"
    assert "its Ray task was lost" in no_retry["error"] and "after 1 attempt (max_retries: 0)" in no_retry["error"]
    assert "--resume --only no_retry" in no_retry["error"]
    pinned = json.loads(RunFolder(compare_dir / "strategies" / "pinned").error.read_text())
    assert by_name["pinned"]["status"] == "failed"
    assert "no live node of the Ray cluster can run it" in pinned["error"] and "'worker': 1" in pinned["error"]
    assert not RunFolder(compare_dir / "strategies" / "pinned").node.exists()
