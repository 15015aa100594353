"""One strategy's work, the same under every executor: evaluate the base, train and judge a strategy.

A :class:`StrategyJob` says what to run as plain, picklable data, so the local
executor (:mod:`harness.strategies.comparison`) and the Ray executor
(:mod:`harness.strategies.ray_executor`) hand the same job to the same
functions; where it runs (the compare folder, or a scratch folder on a Ray
node) is the executor's choice and is passed beside the job, never inside it.
Both executors import this module; it imports neither.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.config import RunConfig
from harness.resolve.config_file import parse_config
from harness.plugins import Harness
from harness.loop.rundir import RunFolder, write_atomic, write_json

HarnessFactory = Callable[[], Harness]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyJob:
    """What one strategy's run needs; it travels to a Ray worker by pickle, so plain data and a factory only.

    The harness itself is built on the worker by ``harness_factory``: a loaded
    harness holds plugin objects that need not pickle.
    """

    name: str
    config_data: dict[str, Any]  # the strategy's merged run config, as validated on the driver
    base_dir: str  # the compare config's folder: relative paths in config_data mean that folder
    harness_factory: HarnessFactory
    progress: bool = True


def strategy_dir(compare_dir: Path, name: str) -> Path:
    return Path(compare_dir) / "strategies" / name


def evaluate_base(job: StrategyJob, compare_dir: str) -> str:
    """Evaluate the base model once into ``COMPARE_DIR/base/eval.json`` (a no-op when it is there).

    Any strategy's job will do: every strategy shares the base model and the
    benchmarks (:func:`harness.strategies.comparison.load_compare` checks).
    """
    from harness.loop.rounds import Loop

    harness = job.harness_factory()
    config = parse_config(job.config_data, harness, source="base", base_dir=Path(job.base_dir))
    loop = Loop(config, harness, Path(compare_dir))
    loop.base_results()  # reads the file when present, evaluates and saves it otherwise
    return str(loop.folder.base_eval)


def run_strategy(job: StrategyJob, compare_dir: str) -> dict[str, Any]:
    """Train and judge one strategy in its own run folder; a failure is recorded, not raised.

    Runs in this process (local executor) or in a Ray worker: everything it
    needs travels in ``job``, and everything it produces lands on disk.
    """
    from harness.loop.rounds import Loop

    name = job.name
    root = strategy_dir(Path(compare_dir), name)
    folder = RunFolder(root)
    for stale in (folder.error, folder.traceback):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        harness = job.harness_factory()
        config = parse_config(job.config_data, harness, source=f"strategy {name!r}", base_dir=Path(job.base_dir))
        # The shared base evaluation: the loop finds it on disk and does not evaluate the base again.
        shared = RunFolder(Path(compare_dir)).base_eval
        if shared.is_file() and not folder.base_eval.is_file():
            folder.base_eval.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared, folder.base_eval)
        verdict = Loop(config, harness, root, progress=job.progress).run()
        _render_run_reports(harness, config, root)
        from harness.loop.tracking import send

        send(harness, root, group=Path(compare_dir).name)  # one tracker run per strategy, grouped by comparison
        return {"name": name, "status": "done", "passed": verdict["passed"],
                "seconds": round(time.perf_counter() - started, 1)}
    except Exception as error:  # noqa: BLE001 - one strategy's failure must not lose the others
        root.mkdir(parents=True, exist_ok=True)
        write_atomic(folder.traceback, traceback.format_exc())
        record = {"name": name, "status": "failed", "error": f"{type(error).__name__}: {error}",
                  "traceback": str(folder.traceback), "seconds": round(time.perf_counter() - started, 1)}
        write_json(folder.error, record)
        return record


def _render_run_reports(harness: Harness, config: RunConfig, root: Path) -> None:
    """Each strategy's own run report, as ``harness run`` leaves one; a rendering bug loses no results."""
    from harness.loop.reporting import render_reports

    if config.reporters == []:
        return
    try:
        render_reports(harness, root)  # the strategy's config snapshot says which reporters, with options
    except Exception:  # noqa: BLE001 - the verdict is on disk; the report can be re-rendered later
        log.warning("%s: rendering the run report failed", root, exc_info=True)
