"""``--executor ray``: one Ray task per strategy, anywhere on a cluster, results gathered to the driver.

Each task asks for its strategy's declared resources (:mod:`harness.strategies.ray_settings`),
so Ray places strategies on the nodes that have them. A task works in a scratch
folder on its node and returns the run folder as data (:mod:`harness.strategies.gather`);
the driver writes it to ``COMPARE_DIR/strategies/<name>/``, with ``node.json``
saying which node ran it. No disk is assumed shared between the nodes: the
driver's compare folder is never handed to a task. What every node needs is
harness (and the plugins a strategy names) installed, and the base model and data
at the paths the config gives (or hub ids).

A task whose node or worker dies is run again from the start, up to ``max_retries``
times, on any node that has its resources; after that, or when no live node can
run it, the strategy is recorded as failed (``error.json``) and the others go on.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.files import write_atomic
from harness.loop.rundir import RunFolder, write_json
from harness.strategies.gather import pack, unpack
from harness.strategies.ray_settings import RaySettings, TaskResources
from harness.strategies.strategy_job import StrategyJob, evaluate_base, run_strategy, strategy_dir

# How often the driver looks for tasks no live node can run, while it waits.
POLL_S = 2.0


# ------------------------------------------------------------- on the worker node


def node_identity() -> dict[str, Any]:
    """Which node and process this is (written to the strategy's node.json)."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
            "ip": ray.util.get_node_ip_address(), "pid": os.getpid()}


def _workspace(scratch: str | None, label: str) -> Path:
    """A fresh folder on this node: ``SCRATCH/<node id>/<label>-<random>``."""
    import ray

    root = Path(scratch).expanduser() if scratch else Path(tempfile.gettempdir()) / "harness-compare"
    path = root / ray.get_runtime_context().get_node_id()[:16] / f"{label}-{uuid.uuid4().hex[:8]}"
    for _ in range(3):  # a finishing task on this node may remove the empty node folder meanwhile
        try:
            path.mkdir(parents=True)
            return path
        except FileNotFoundError:
            continue
    path.mkdir(parents=True)
    return path


def _remove(work: Path) -> None:
    """A task's scratch folder, and its node's folder when that is left empty."""
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.parent.rmdir()
    except OSError:  # another task of this node still works there
        pass


def base_task(job: StrategyJob, scratch: str | None) -> dict[str, Any]:
    """Evaluate the base model in a scratch folder; return ``base/`` as data."""
    work = _workspace(scratch, "base")
    try:
        evaluate_base(job, str(work))
        return {"work": str(work), "node": node_identity(),
                **pack(RunFolder(work).base_eval.parent, max_bytes=0)}  # base/ holds records only
    finally:
        _remove(work)


def strategy_task(job: StrategyJob, base_eval: bytes | None, scratch: str | None,
                  max_bytes: int) -> dict[str, Any]:
    """Run one strategy in a scratch folder laid out like a compare folder; return its run folder as data.

    The scratch folder is deleted when everything came back; when files were too
    large to send, the run folder stays on the node (node.json says where).
    """
    work = _workspace(scratch, job.name)
    if base_eval is not None:  # the shared base evaluation, as the driver has it
        write_atomic(RunFolder(work).base_eval, base_eval)
    result = run_strategy(job, str(work))
    folder = strategy_dir(work, job.name)
    payload = pack(folder, max_bytes=max_bytes)
    if payload["left_on_node"]:
        shutil.rmtree(RunFolder(work).base_eval.parent, ignore_errors=True)
    else:
        _remove(work)
    return {"result": result, "work": str(work), "node": {**node_identity(), "scratch": str(folder)}, **payload}


# --------------------------------------------------------------------- on the driver


def default_num_gpus() -> float:
    """A strategy's GPU request when it declares none: 1 when the driver's machine has CUDA."""
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except ImportError:
        return 0.0


def _label_ok(value: str | None, wanted: str) -> bool:
    """Ray's label selector forms: ``v``, ``!v``, ``in(a,b)``, ``!in(a,b)``."""
    negate = wanted.startswith("!")
    wanted = wanted[1:] if negate else wanted
    allowed = {v.strip() for v in wanted[3:-1].split(",")} if wanted.startswith("in(") and wanted.endswith(")") \
        else {wanted}
    return (value not in allowed) if negate else (value in allowed)


def feasible(task: TaskResources, default_gpus: float, nodes: list[dict[str, Any]]) -> bool:
    """Whether some live node (``ray.nodes()``) has, in total, what ``task`` asks for."""
    need = {"CPU": task.num_cpus, "GPU": task.num_gpus if task.num_gpus is not None else default_gpus,
            **task.resources}
    need = {k: v for k, v in need.items() if v}
    for node in nodes:
        if not node.get("Alive"):
            continue
        total, labels = node.get("Resources") or {}, node.get("Labels") or {}
        if all(total.get(k, 0) >= v for k, v in need.items()) and \
                all(_label_ok(labels.get(k), v) for k, v in task.label_selector.items()):
            return True
    return False


def _record_failure(compare_dir: Path, name: str, message: str, detail: str) -> dict[str, Any]:
    folder = RunFolder(strategy_dir(compare_dir, name))
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.node.unlink(missing_ok=True)  # from an earlier attempt of a resumed comparison
    write_atomic(folder.traceback, detail)
    record = {"name": name, "status": "failed", "error": message, "traceback": str(folder.traceback)}
    write_json(folder.error, record)
    print(f"strategy {name}: failed: {message}", flush=True)
    return record


def _lost_message(name: str, error: BaseException, task: TaskResources) -> str:
    import ray

    first = (str(error).strip().splitlines() or [""])[0]
    if isinstance(error, ray.exceptions.RayTaskError):  # the task's own code raised outside run_strategy
        return f"its Ray task raised: {first}"
    tries = task.max_retries + 1
    return (f"its Ray task was lost ({type(error).__name__}: {first}) after {tries} attempt{'s' * (tries != 1)} "
            f"(max_retries: {task.max_retries}); the node or worker running it died. The other strategies "
            f"are unaffected; rerun this one with --resume --only {name}")


def _gathered(payload: dict[str, Any], name: str, compare_dir: Path) -> dict[str, Any]:
    dest = unpack(payload, strategy_dir(compare_dir, name), node=payload["node"],
                  old_root=payload["work"], new_root=str(compare_dir))
    result = dict(payload["result"])
    if "traceback" in result:
        result["traceback"] = str(RunFolder(dest).traceback)
    node = payload["node"]
    left = f"; {len(payload['left_on_node'])} large files left on the node" if payload["left_on_node"] else ""
    print(f"strategy {name}: {result['status']} on {node['hostname']} ({node['ip']}), "
          f"{len(payload['files'])} files gathered{left}", flush=True)
    return result


def run_ray(jobs: list[StrategyJob], base_job: StrategyJob | None, compare_dir: Path, *,
            settings: RaySettings, **_: Any) -> list[dict[str, Any]]:
    """One Ray task per strategy with its declared resources; the base evaluation first, as a task too.

    The tasks never see ``compare_dir``, the driver's folder: each writes only to its own scratch.
    """
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'forgetting-harness[ray]' (or 'ray>=2.9')") from None
    compare_dir = Path(compare_dir)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=settings.address, ignore_reinit_error=True, log_to_driver=True)
    gpus = settings.num_gpus if settings.num_gpus is not None else default_num_gpus()
    max_bytes = int(settings.gather_max_mb * 1024 * 1024)
    try:
        base_eval_path = RunFolder(compare_dir).base_eval
        if base_job is not None:
            task = ray.remote(base_task).options(**settings.ray_options(gpus))
            payload = ray.get(task.remote(base_job, settings.scratch))
            unpack(payload, base_eval_path.parent, old_root=payload["work"], new_root=str(compare_dir))
        base_eval = base_eval_path.read_bytes() if base_eval_path.is_file() else None
        base_ref = ray.put(base_eval)  # one copy in the object store, however many strategies
        remote = ray.remote(strategy_task)
        refs = {remote.options(**settings.task(job.name).ray_options(gpus)).remote(
                    job, base_ref, settings.scratch, max_bytes): job.name for job in jobs}
        return _collect(ray, refs, settings, gpus, compare_dir)
    finally:
        if started_here:
            ray.shutdown()


def _collect(ray: Any, refs: dict[Any, str], settings: RaySettings, gpus: float,
             compare_dir: Path) -> list[dict[str, Any]]:
    """Gather each strategy as it finishes; fail the ones that are lost, or that no live node can run."""
    results: dict[str, dict[str, Any]] = {}
    stuck_since: dict[str, float] = {}
    order = list(refs.values())
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
        for ref in ready:
            name = refs.pop(ref)
            task = settings.task(name)
            try:
                payload = ray.get(ref)
            except Exception as error:  # noqa: BLE001 - a lost task is one failed strategy
                results[name] = _record_failure(compare_dir, name, _lost_message(name, error, task), str(error))
                continue
            try:
                results[name] = _gathered(payload, name, compare_dir)
            except Exception as error:  # noqa: BLE001 - e.g. the driver's disk is full; the others go on
                results[name] = _record_failure(compare_dir, name, f"writing its run folder on the driver "
                                                f"failed: {type(error).__name__}: {error}", repr(error))
        if ready or settings.unschedulable_timeout_s is None:
            continue
        nodes, now = ray.nodes(), time.monotonic()
        for ref, name in list(refs.items()):
            task = settings.task(name)
            if feasible(task, gpus, nodes):
                stuck_since.pop(name, None)
                continue
            if now - stuck_since.setdefault(name, now) < settings.unschedulable_timeout_s:
                continue
            ray.cancel(ref, force=True)
            del refs[ref]
            asked = task.ray_options(gpus)
            asked = {k: asked[k] for k in ("num_cpus", "num_gpus", "resources", "label_selector") if k in asked}
            results[name] = _record_failure(
                compare_dir, name,
                f"no live node of the Ray cluster can run it (it asks for {asked}); waited "
                f"{settings.unschedulable_timeout_s:g} s (ray: unschedulable_timeout_s). A node it needs "
                "may have died; the other strategies are unaffected", f"unschedulable: {asked}")
    return [results[name] for name in order]
