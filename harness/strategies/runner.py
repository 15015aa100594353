"""Compare mitigation strategies side by side: the seed's before/after table, for your model and data.

A compare config is a run config (inline, or ``base: run.yml``) plus
``strategies:``, a mapping of name -> overrides deep-merged over it::

    base: firefighter.yml
    strategies:
      no_mitigation: {mitigation: {schedule: [0.0]}}
      mix_20: {mitigation: {schedule: [0.2]}}
      ewc: {trainer: {name: ewc, ewc_lambda: 0.4}}

Each strategy trains once (``mitigation.max_rounds: 1`` unless it asks for the
loop) in its own run folder, ``COMPARE_DIR/strategies/<name>/``, and every one is
judged against one evaluation of the base model on the same items. Strategies
are independent, so an executor runs them one after another (``local``) or as
Ray tasks (``ray``, :mod:`harness.strategies.ray_executor`: anywhere on a cluster,
each run folder gathered back to the driver); the work itself is
:func:`run_strategy` either way, so both give the same numbers. A failing
strategy is recorded, never fatal to the others.

Layout::

    COMPARE_DIR/
      compare.yml                  the compare config as given (plus the resolved base)
      base/eval.json               the base model's per-item results, shared by all
      strategies/<name>/           an ordinary run folder (see harness.loop.rundir)
      strategies/<name>/error.json, traceback.txt   when that strategy failed
      strategies/<name>/node.json  which Ray node ran it, and what it left there (--executor ray)
      compare.json, compare.md, compare.html        the comparison report
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from harness.api import UsageError
from harness.config import ConfigError, ConfigIssue, RunConfig, deep_merge, parse_config
from harness.plugins import Harness, load_harness
from harness.loop.rundir import RunFolder, read_json, write_atomic, write_json
from harness.strategies.ray_executor import run_ray
from harness.strategies.ray_settings import RaySettings, parse_ray_settings

# Keys of a compare config that are not run-config keys.
COMPARE_KEYS = ("base", "strategies", "ray")
# Sections every strategy must share, or the strategies would not be judged on the same items.
SHARED_KEYS = ("base_model", "benchmarks", "forgetting")

HarnessFactory = Callable[[], Harness]
log = logging.getLogger(__name__)


@dataclass
class CompareSpec:
    """A validated compare config: one full run config per strategy."""

    source: Path
    base_dir: Path
    strategies: dict[str, RunConfig]
    data: dict[str, dict[str, Any]]  # each strategy's merged config, as validated
    overrides: dict[str, dict[str, Any]]
    ray: RaySettings = field(default_factory=RaySettings)


# ------------------------------------------------------------------------ config


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}") from None


def _anchor_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make a base file's local data paths absolute, so they keep meaning the base file's folder."""
    data = yaml.safe_load(yaml.safe_dump(data))  # a deep copy of plain data

    def fix(specs: Any) -> None:
        for spec in specs if isinstance(specs, list) else []:
            path = spec.get("path") if isinstance(spec, dict) else None
            if isinstance(path, str) and "://" not in path and not path.startswith("builtin:"):
                if not Path(path).expanduser().is_absolute():
                    spec["path"] = str((folder / path).resolve())

    fix(data.get("datasets"))
    fix((data.get("mitigation") or {}).get("general_data") if isinstance(data.get("mitigation"), dict) else None)
    model = data.get("base_model")
    if isinstance(model, str) and (folder / model).exists() and not Path(model).is_absolute():
        data["base_model"] = str((folder / model).resolve())
    return data


def load_compare(path: str | Path, harness: Harness) -> CompareSpec:
    """Read a compare config and validate every strategy's merged run config before anything loads.

    Every problem in every strategy is collected into one :class:`UsageError`
    (exit 2) that names the strategy and the key.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [ConfigIssue("", "a compare config must be a mapping", raw, True)])
    strategies = raw.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise ConfigError(str(path), [ConfigIssue("strategies", "a mapping of strategy name -> run-config "
                                                  "overrides is required (at least one strategy)")])
    base: dict[str, Any] = {}
    if raw.get("base") is not None:
        base_path = (path.parent / str(raw["base"])).resolve()
        base_data = _read_yaml(base_path)
        if not isinstance(base_data, dict):
            raise ConfigError(str(base_path), [ConfigIssue("", "the base run config must be a mapping")])
        base = _anchor_paths(base_data, base_path.parent)
    inline = {k: v for k, v in raw.items() if k not in COMPARE_KEYS}
    base = deep_merge(base, inline)
    # A strategy's own ray: key is what its Ray task asks for, not a run-config override.
    own_ray = {str(n): o.pop("ray") for n, o in strategies.items() if isinstance(o, dict) and "ray" in o}
    ray = parse_ray_settings(raw.get("ray"), own_ray, path)

    issues: list[str] = []
    configs: dict[str, RunConfig] = {}
    data: dict[str, dict[str, Any]] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for name, override in strategies.items():
        name = str(name)
        if override is None:
            override = {}
        if not isinstance(override, dict):
            issues.append(f"  - strategies.{name}: must be a mapping of run-config overrides (got {override!r})")
            continue
        # One training per strategy unless the strategy itself asks for the retrain loop.
        merged = deep_merge(deep_merge(base, {"mitigation": {"max_rounds": 1}}), override)
        try:
            configs[name] = parse_config(merged, harness, source=f"strategy {name!r}", base_dir=path.resolve().parent)
        except ConfigError as error:
            issues += [f"  - strategies.{name}: {issue}" for issue in error.issues]
            continue
        data[name], overrides[name] = merged, override
    issues += _shared_issues(configs)
    if not issues:
        issues += _component_issues(configs, harness)
    if issues:
        raise UsageError(f"{path}: invalid compare config ({len(issues)} problem{'s' * (len(issues) != 1)}):\n"
                         + "\n".join(issues))
    return CompareSpec(path, path.resolve().parent, configs, data, overrides, ray)


def _shared_issues(configs: dict[str, RunConfig]) -> list[str]:
    """Strategies that change the base model or the benchmarks would not be comparable."""
    if len(configs) < 2:
        return []
    names = list(configs)
    first = configs[names[0]].model_dump(mode="json")
    issues = []
    for name in names[1:]:
        dumped = configs[name].model_dump(mode="json")
        for key in SHARED_KEYS:
            if dumped[key] != first[key]:
                issues.append(f"  - strategies.{name}.{key}: must be the same for every strategy (it differs "
                              f"from {names[0]!r}); the comparison judges all strategies on the same items")
    return issues


def _component_issues(configs: dict[str, RunConfig], harness: Harness) -> list[str]:
    """Build each strategy's components now, so e.g. QLoRA without CUDA fails before any work."""
    from harness.loop.runner import build_components

    issues = []
    for name, config in configs.items():
        try:
            build_components(config, harness)
        except UsageError as error:
            issues.append(f"  - strategies.{name}: {error}")
    return issues


# --------------------------------------------------------------------------- work


def strategy_dir(compare_dir: Path, name: str) -> Path:
    return Path(compare_dir) / "strategies" / name


def evaluate_base(config_data: dict[str, Any], base_dir: str, compare_dir: str,
                  harness_factory: HarnessFactory) -> str:
    """Evaluate the base model once into ``COMPARE_DIR/base/eval.json`` (a no-op when it is there)."""
    from harness.loop.runner import Loop

    harness = harness_factory()
    config = parse_config(config_data, harness, source="base", base_dir=Path(base_dir))
    loop = Loop(config, harness, Path(compare_dir))
    loop.base_results()  # reads the file when present, evaluates and saves it otherwise
    return str(loop.folder.base_eval)


def run_strategy(name: str, config_data: dict[str, Any], base_dir: str, compare_dir: str,
                 harness_factory: HarnessFactory, progress: bool = True) -> dict[str, Any]:
    """Train and judge one strategy in its own run folder; a failure is recorded, not raised.

    Runs in this process (local executor) or in a Ray worker: everything it
    needs travels as plain data, and everything it produces lands on disk.
    """
    from harness.loop.runner import Loop

    root = strategy_dir(Path(compare_dir), name)
    folder = RunFolder(root)
    for stale in (folder.error, folder.traceback):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        harness = harness_factory()
        config = parse_config(config_data, harness, source=f"strategy {name!r}", base_dir=Path(base_dir))
        # The shared base evaluation: the loop finds it on disk and does not evaluate the base again.
        shared = RunFolder(Path(compare_dir)).base_eval
        if shared.is_file() and not folder.base_eval.is_file():
            folder.base_eval.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared, folder.base_eval)
        verdict = Loop(config, harness, root, progress=progress).run()
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


# ---------------------------------------------------------------------- executors


def run_local(jobs: list[dict[str, Any]], base_job: dict[str, Any] | None, **_: Any) -> list[dict[str, Any]]:
    """One strategy after another, in this process."""
    if base_job is not None:
        evaluate_base(**base_job)
    results = []
    for job in jobs:
        print(f"\n=== strategy {job['name']} ===", flush=True)
        results.append(run_strategy(**job))
    return results


EXECUTORS: dict[str, Callable[..., list[dict[str, Any]]]] = {"local": run_local, "ray": run_ray}


# ------------------------------------------------------------------------ compare


def run_comparison(spec: CompareSpec, compare_dir: Path, *, executor: str = "local", resume: bool = False,
            harness_factory: HarnessFactory | None = None, progress: bool = True,
            only: list[str] | None = None) -> dict[str, Any]:
    """Run every strategy (skipping finished ones on ``resume``), then summarise; returns compare.json's dict."""
    from harness.strategies.summary import summarise

    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    compare_dir = Path(compare_dir)
    if not resume and compare_dir.exists() and any(compare_dir.iterdir()):
        raise UsageError(f"{compare_dir} already holds a comparison; use --resume to continue it, "
                         "or choose another --compare-dir")
    unknown = sorted(set(only or []) - set(spec.strategies))
    if unknown:
        raise UsageError(f"--only: unknown strategies {unknown}; known: {', '.join(spec.strategies)}")
    compare_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(compare_dir / "compare.yml", yaml.safe_dump(
        {"source": str(spec.source), "strategies": spec.overrides}, sort_keys=False))
    factory = harness_factory or functools.partial(load_harness)
    names = [n for n in spec.strategies if not only or n in only]
    pending = [n for n in names if not (resume and RunFolder(strategy_dir(compare_dir, n)).verdict.is_file())]
    for name in names:
        if name not in pending:
            print(f"strategy {name}: finished on disk (verdict.json); skipped", flush=True)
    jobs = [dict(name=n, config_data=spec.data[n], base_dir=str(spec.base_dir), compare_dir=str(compare_dir),
                 harness_factory=factory, progress=progress) for n in pending]
    base_job = None
    if pending and not RunFolder(compare_dir).base_eval.is_file():
        first = pending[0]
        base_job = dict(config_data=spec.data[first], base_dir=str(spec.base_dir), compare_dir=str(compare_dir),
                        harness_factory=factory)
    started = time.perf_counter()
    if jobs:
        EXECUTORS[executor](jobs, base_job, settings=spec.ray)
    summary = summarise(spec, compare_dir, executor=executor, seconds=time.perf_counter() - started)
    write_json(compare_dir / "compare.json", summary)
    return summary


def load_summary(compare_dir: Path) -> dict[str, Any]:
    """compare.json of a finished comparison (for re-rendering without recomputing)."""
    path = Path(compare_dir) / "compare.json"
    if not path.is_file():
        raise UsageError(f"{compare_dir}: no compare.json (not a finished comparison)")
    return read_json(path)
