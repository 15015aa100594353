"""A config turned into a run, resolved once: typed config, built plugins, judging settings.

Every command that starts work (``run``, ``train``, ``lr-find``, ``validate``,
``compare``) goes through :func:`resolve_file` or :func:`resolve`, so a config is read,
translated, checked against the installed plugins and built in one place, and the
facts derived from it (the suite expanded into benchmarks, the policy chain checked,
how verdicts are judged) are computed once and handed on, not rebuilt where needed.

- :mod:`harness.resolve.config_file`: the file read, Axolotl's keys translated, every
  problem collected;
- :mod:`harness.resolve.components`: the plugins built with their options;
- :mod:`harness.resolve.run_data`: the data read and split;
- :mod:`harness.resolve.preflight`: what the config asks of this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.evaluation.judging import JudgeSettings
from harness.plugins import Harness
from harness.resolve.components import Components, build_components
from harness.resolve.config_file import load_config, parse_overrides
from harness.resolve.preflight import hardware_notes


@dataclass(frozen=True)
class ResolvedRun:
    """Everything a run needs before any model or data loads."""

    config: RunConfig
    components: Components
    judging: JudgeSettings
    notes: tuple[str, ...]  # what became of keys accepted and ignored (Axolotl's)
    warnings: tuple[str, ...]  # settings this machine honours badly


def judge_settings(config: RunConfig, components: Components) -> JudgeSettings:
    """How this run decides: the forgetting section and the benchmarks' sampling, in one record."""
    return JudgeSettings.of(config.forgetting, config.benchmarks, components.limits)


def resolve(config: RunConfig, harness: Harness) -> ResolvedRun:
    """A validated config's plugins built (raises ``UsageError`` on what cannot run) and its settings derived."""
    components = build_components(config, harness)
    return ResolvedRun(config=config, components=components, judging=judge_settings(config, components),
                       notes=tuple(config._notes), warnings=tuple(hardware_notes(config)))


def resolve_file(path: str | Path, harness: Harness, overrides: dict[str, Any] | list[str] | None = None) -> ResolvedRun:
    """:func:`resolve` for a config file; ``overrides`` as a mapping or as ``--set KEY=VALUE`` pairs."""
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    return resolve(load_config(path, harness, overrides), harness)


__all__ = ["Components", "ResolvedRun", "judge_settings", "resolve", "resolve_file"]
