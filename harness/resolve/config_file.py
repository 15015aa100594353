"""A config file read, translated and validated against the installed plugins.

Validation runs in two passes, both before any model or data is loaded:
1. structure and types (the schema in :mod:`harness.config`, unknown keys rejected,
   Axolotl's keys translated by :mod:`harness.axolotl`), and
2. components: every named trainer, benchmark, mixer, formatter, policy and
   reporter must be registered, and its options must satisfy that plugin's own
   typed ``Options`` model.
Every problem is collected and reported with its key path, the bad value and what
is allowed (:mod:`harness.config_issues`), so a user fixes a config in one pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.config import ComponentRef, RunConfig
from harness.config_issues import ConfigError, ConfigIssue, issues_from_validation
from harness.errors import UsageError
from harness.naming import closest, unknown_name_message
from harness.plugins import Harness


def _component_issues(config: RunConfig, harness: Harness) -> list[ConfigIssue]:
    """Second pass: named components exist and their options fit their plugin's model."""
    checks: list[tuple[str, str, ComponentRef]] = [
        ("trainer", "trainer", config.trainer),  # type: ignore[list-item]
        ("mitigation.mixer", "mixer", config.mitigation.mixer),
        ("mitigation.policy", "policy", config.mitigation.policy),
    ]
    checks += [(f"reporters[{i}]", "reporter", ref) for i, ref in enumerate(config.reporters or [])]
    checks += [(f"trackers[{i}]", "tracker", ref) for i, ref in enumerate(config.trackers)]
    for section in ("general", "domain"):
        refs = getattr(config.benchmarks, section)
        checks += [(f"benchmarks.{section}[{i}]", "benchmark", ref) for i, ref in enumerate(refs)]
    issues = []
    valid: dict[str, tuple[Any, Any]] = {}  # path -> (component class, its validated options)
    for path, kind, ref in checks:
        catalog = harness.catalogs[kind]
        if ref.name not in catalog:
            issues.append(ConfigIssue(f"{path}.name" if ref.options else path,
                                      unknown_name_message(kind, ref.name, catalog.names())))
            continue
        component = catalog.get(ref.name)
        try:
            options = component.Options.model_validate(ref.options)
            valid[path] = component, options
        except ValidationError as error:
            issues += issues_from_validation(error, component.Options, prefix=tuple(path.split(".")))
            continue
        if kind == "policy":
            issues += policy_chain_issues(path, ref.name, options, harness)
    issues += _rehearsal_issues(config, harness, valid)
    for i, spec in enumerate(config.datasets + config.mitigation.general_data):
        where = f"datasets[{i}]" if i < len(config.datasets) else f"mitigation.general_data[{i - len(config.datasets)}]"
        if spec.type and spec.type not in harness.catalogs["formatter"]:
            issues.append(ConfigIssue(f"{where}.type", unknown_name_message(
                "formatter", spec.type, harness.catalogs["formatter"].names())))
        elif spec.formatter_options():
            # Axolotl's chat_template keys are the formatter's options: checked before any data is read.
            formatter = harness.catalogs["formatter"].get(spec.type or "chat_template")
            try:
                formatter.Options.model_validate(spec.formatter_options())
            except ValidationError as error:
                issues += [ConfigIssue(f"{where}.{'.'.join(map(str, e['loc']))}",
                                       "only type: chat_template reads this key" if e["type"] == "extra_forbidden"
                                       else e["msg"]) for e in error.errors()]
    if config.benchmarks.suite is not None:
        if config.benchmarks.suite not in harness.suites:
            issues.append(ConfigIssue("benchmarks.suite", unknown_name_message(
                "suite", config.benchmarks.suite, harness.suites)))
    return issues


def policy_chain_issues(path: str, name: str, options: Any, harness: Harness) -> list[ConfigIssue]:
    """A policy's ``then`` (the policy it hands over to) exists, fits its options and is no loop."""
    chain = [name]
    while getattr(options, "then", None):
        follower = options.then
        if follower in chain:
            return [ConfigIssue(f"{path}.then", f"{follower!r} hands over to itself ({' -> '.join([*chain, follower])})")]
        catalog = harness.catalogs["policy"]
        if follower not in catalog:
            return [ConfigIssue(f"{path}.then", unknown_name_message("policy", follower, catalog.names()))]
        cls = catalog.get(follower)
        try:
            options = cls.Options.model_validate(getattr(options, "then_options", {}) or {})
        except ValidationError as error:
            return issues_from_validation(error, cls.Options, prefix=(*path.split("."), "then_options"))
        chain.append(follower)
    return []


def _rehearsal_issues(config: RunConfig, harness: Harness, valid: dict[str, tuple[Any, Any]]) -> list[ConfigIssue]:
    """``rehearses`` names this run's general benchmarks, and the mixer reads it (and only then)."""
    specs = config.mitigation.general_data
    general = [cls.identity(options) for path, (cls, options) in valid.items()
               if path.startswith("benchmarks.general[")]
    if not config.benchmarks.general and config.benchmarks.suite in harness.suites:
        catalog = harness.catalogs["benchmark"]
        general = [catalog.get(n).name for n in harness.suite(config.benchmarks.suite).benchmarks if n in catalog]
    issues = []
    for i, spec in enumerate(specs):
        for j, target in enumerate(spec.rehearses):
            benchmark, _, group = target.partition("/")
            where = f"mitigation.general_data[{i}].rehearses[{j}]"
            if benchmark not in general:
                hint = closest(benchmark, general)
                issues.append(ConfigIssue(where, (
                    f"unknown benchmark {benchmark!r}: rehearses names general benchmarks of this run "
                    f"({', '.join(sorted(general)) or 'none'}), each optionally as benchmark/group"
                    + (f"; did you mean {hint!r}?" if hint else "")), target, True))
            elif "/" in target and not group:
                issues.append(ConfigIssue(where, "the group after '/' is empty", target, True))
    if "mitigation.mixer" not in valid:
        return issues
    mixer_class, mixer_options = valid["mitigation.mixer"]
    mixer = mixer_class(mixer_options)  # a mixer is built for reads_rehearses alone; it loads nothing
    rehearsing = [i for i, spec in enumerate(specs) if spec.rehearses]
    if rehearsing and not mixer.reads_rehearses():
        issues.append(ConfigIssue(
            f"mitigation.general_data[{rehearsing[0]}].rehearses",
            f"mixer {mixer.name!r} as configured does not weight sources by forgetting, so rehearses would be "
            f"ignored; use a mixer that does (weighted with by_forgetting: true) or remove rehearses"))
    if mixer.reads_rehearses() and not rehearsing:
        issues.append(ConfigIssue(
            "mitigation.mixer", "this mixer weights general sources by what the last round forgot, but no "
            "mitigation.general_data entry says what it rehearses (rehearses: [<general benchmark>, ...])"))
    return issues


def parse_config(data: Any, harness: Harness, source: str = "<config>", base_dir: Path | None = None) -> RunConfig:
    """Validate a config mapping fully; raise :class:`ConfigError` listing every problem."""
    from harness.axolotl import translate

    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "the config must be a mapping of keys to values", data, True)])
    # Axolotl's keys: empty ones unset, the rest honoured, ignored with a note, or refused (harness.axolotl).
    translation = translate(data, set(RunConfig.model_fields))
    refused = [ConfigIssue(path, message, value, True) for path, message, value in translation.refused]
    try:
        config = RunConfig.model_validate(translation.data)
    except ValidationError as error:
        raise ConfigError(source, refused + issues_from_validation(error, RunConfig)) from None
    if refused:
        raise ConfigError(source, refused)
    config._base_dir = base_dir or Path(".")
    config._notes = translation.notes
    issues = _component_issues(config, harness)
    if issues:
        raise ConfigError(source, issues)
    return config


def load_config(path: str | Path, harness: Harness, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config file and validate it (nothing is loaded besides the YAML)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if overrides:
        if isinstance(data, dict) and data.get("strict"):
            absent = [key for key in _leaf_paths(overrides) if not _has_path(data, key)]
            if absent:
                raise ConfigError(str(path), [ConfigIssue(key, "--set names a key the file does not set, and the "
                                                               "file says strict: true (only keys it sets may be "
                                                               "changed from the command line)") for key in absent])
        data = deep_merge(data or {}, overrides)
    return parse_config(data, harness, source=str(path), base_dir=path.resolve().parent)


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as a nested mapping: ``forgetting.threshold=3`` sets a key inside a
    section; values are read as YAML (``1e-4``, ``true``, ``[q_proj, v_proj]``)."""
    merged: dict[str, Any] = {}
    for pair in pairs or []:
        key, equals, text = pair.partition("=")
        if not equals or not key.strip() or any(not part for part in key.strip().split(".")):
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 as text; on the command line it is a number
        for part in reversed(key.strip().split(".")):
            value = {part: value}
        merged = deep_merge(merged, value)
    return merged


def _leaf_paths(mapping: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        paths += _leaf_paths(value, path + ".") if isinstance(value, dict) and value else [path]
    return paths


def _has_path(data: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` laid over it, mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
