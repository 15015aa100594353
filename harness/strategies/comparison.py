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
:func:`harness.strategies.strategy_job.run_strategy` either way, so both give
the same numbers. A failing strategy is recorded, never fatal to the others.

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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from harness.errors import UsageError
from harness.config import RunConfig
from harness.config_issues import ConfigError, ConfigIssue
from harness.resolve.config_file import deep_merge, parse_config
from harness.plugins import Harness, load_harness
from harness.loop.rundir import RunFolder, read_json, write_atomic, write_json
from harness.strategies.ray_executor import run_ray
from harness.strategies.ray_settings import RaySettings, parse_ray_settings
from harness.strategies.strategy_job import HarnessFactory, StrategyJob, evaluate_base, run_strategy, strategy_dir

# Keys of a compare config that are not run-config keys.
COMPARE_KEYS = ("base", "strategies", "ray")
# Sections every strategy must share, or the strategies would not be judged on the same items.
SHARED_KEYS = ("base_model", "benchmarks", "forgetting")


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
    """Resolve each strategy as its run will, so e.g. QLoRA without CUDA fails before any work."""
    from harness.resolve import resolve

    issues = []
    for name, config in configs.items():
        try:
            resolve(config, harness)
        except UsageError as error:
            issues.append(f"  - strategies.{name}: {error}")
    return issues


# ---------------------------------------------------------------------- executors


def run_local(jobs: list[StrategyJob], base_job: StrategyJob | None, compare_dir: Path,
              **_: Any) -> list[dict[str, Any]]:
    """One strategy after another, in this process."""
    if base_job is not None:
        evaluate_base(base_job, str(compare_dir))
    results = []
    for job in jobs:
        print(f"\n=== strategy {job.name} ===", flush=True)
        results.append(run_strategy(job, str(compare_dir)))
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
    jobs = [StrategyJob(name=n, config_data=spec.data[n], base_dir=str(spec.base_dir), harness_factory=factory,
                        progress=progress) for n in pending]
    # The base is evaluated once, first, with any strategy's config: they all share base model and benchmarks.
    base_job = jobs[0] if jobs and not RunFolder(compare_dir).base_eval.is_file() else None
    started = time.perf_counter()
    if jobs:
        EXECUTORS[executor](jobs, base_job, compare_dir, settings=spec.ray)
    summary = summarise(spec, compare_dir, executor=executor, seconds=time.perf_counter() - started)
    write_json(compare_dir / "compare.json", summary)
    return summary


def load_summary(compare_dir: Path) -> dict[str, Any]:
    """compare.json of a finished comparison (for re-rendering without recomputing)."""
    path = Path(compare_dir) / "compare.json"
    if not path.is_file():
        raise UsageError(f"{compare_dir}: no compare.json (not a finished comparison)")
    return read_json(path)
