"""The plugin manager factory and the component catalogs it fills.

Built-in plugins are entry points of this distribution in the ``harness`` group,
loaded through exactly the path a third-party package's entry points take. A
plugin can be blocked with ``--disable NAME`` or ``HARNESS_DISABLE_PLUGINS=a,b``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Iterable

import pluggy

from harness import conformance, hookspecs
from harness.naming import unknown_name_message
from harness.components import PLUGIN_SURFACE_VERSION, Benchmark, Component, Formatter, Mixer, Policy, Reporter, Tracker, Trainer
from harness.errors import UsageError

DISABLE_ENV = "HARNESS_DISABLE_PLUGINS"

# kind -> (base class, collecting hook name)
KINDS: dict[str, tuple[type[Component], str]] = {
    "formatter": (Formatter, "harness_register_formatters"),
    "mixer": (Mixer, "harness_register_mixers"),
    "trainer": (Trainer, "harness_register_trainers"),
    "benchmark": (Benchmark, "harness_register_benchmarks"),
    "reporter": (Reporter, "harness_register_reporters"),
    "policy": (Policy, "harness_register_policies"),
    "tracker": (Tracker, "harness_register_trackers"),
}


@dataclass
class Catalog:
    """All components of one kind, by name, each remembering the plugin that registered it."""

    kind: str
    components: dict[str, type[Component]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # name -> why it does not fit the surface

    def add(self, component: type[Component], plugin: str) -> None:
        base = KINDS[self.kind][0]
        if not (isinstance(component, type) and issubclass(component, base)):
            raise UsageError(
                f"plugin {plugin!r} registered {component!r} as a {self.kind}, "
                f"but it is not a subclass of harness.{base.__name__}"
            )
        for name in (component.name, *component.aliases):
            taken_by = self.owners.get(name) or self.owners.get(self.aliases.get(name, ""))
            if taken_by is not None:
                raise UsageError(
                    f"{self.kind} name {name!r} is registered twice: by plugin {taken_by!r} "
                    f"and by plugin {plugin!r}; disable one with --disable or {DISABLE_ENV}"
                )
        lacking = conformance.problems(component, base)
        if lacking:
            # Refused, not fatal: one outdated plugin must not stop every command.
            why = (f"plugin {plugin!r}: {self.kind} {component.name!r} does not fit harness.{base.__name__} "
                   f"(plugin surface v{PLUGIN_SURFACE_VERSION}) and is not loaded: {'; '.join(lacking)}")
            self.refused[component.name] = why
            print(f"warning: {why}", file=sys.stderr)
            return
        self.components[component.name] = component
        self.owners[component.name] = plugin
        for alias in component.aliases:
            self.aliases[alias] = component.name

    def names(self) -> list[str]:
        return sorted(self.components)

    def get(self, name: str) -> type[Component]:
        canonical = self.aliases.get(name, name)
        if canonical in self.refused and canonical not in self.components:
            raise UsageError(self.refused[canonical])
        if canonical not in self.components:
            raise UsageError(unknown_name_message(self.kind, name, self.names()))
        return self.components[canonical]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.components


@dataclass(frozen=True)
class Suite:
    """A named list of benchmarks, registered by a plugin."""

    name: str
    benchmarks: list[str]
    description: str
    plugin: str


class Harness:
    """A typed facade over the plugin manager: catalogs plus the hook relay."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hook = pm.hook
        self.catalogs = {kind: Catalog(kind) for kind in KINDS}
        for kind, (_, hook_name) in KINDS.items():
            self._collect(kind, hook_name)
        self.suites: dict[str, Suite] = {}
        for impl in pm.hook.harness_register_suites.get_hookimpls():
            plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)
            impl.function(register=lambda *a, _p=plugin_name, **k: self._add_suite(_p, *a, **k))

    def _add_suite(self, plugin: str, name: str, benchmarks: list[str], description: str = "") -> None:
        if name in self.suites:
            raise UsageError(
                f"suite {name!r} is registered twice: by plugin {self.suites[name].plugin!r} "
                f"and by plugin {plugin!r}"
            )
        self.suites[name] = Suite(name, list(benchmarks), description, plugin)

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            raise UsageError(unknown_name_message("suite", name, self.suites))
        return self.suites[name]

    def _collect(self, kind: str, hook_name: str) -> None:
        catalog = self.catalogs[kind]
        caller = getattr(self.pm.hook, hook_name)
        # Call each implementation separately so a clash names the plugin responsible.
        for impl in caller.get_hookimpls():
            plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            impl.function(register=lambda c, _p=plugin_name: catalog.add(c, _p))

    def component(self, kind: str, name: str) -> type[Component]:
        return self.catalogs[kind].get(name)

    def formatter(self, name: str) -> type[Formatter]:
        return self.component("formatter", name)  # type: ignore[return-value]

    def trainer(self, name: str) -> type[Trainer]:
        return self.component("trainer", name)  # type: ignore[return-value]

    def benchmark(self, name: str) -> type[Benchmark]:
        return self.component("benchmark", name)  # type: ignore[return-value]

    def mixer(self, name: str) -> type[Mixer]:
        return self.component("mixer", name)  # type: ignore[return-value]

    def reporter(self, name: str) -> type[Reporter]:
        return self.component("reporter", name)  # type: ignore[return-value]

    def policy(self, name: str) -> type[Policy]:
        return self.component("policy", name)  # type: ignore[return-value]

    def tracker(self, name: str) -> type[Tracker]:
        return self.component("tracker", name)  # type: ignore[return-value]


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def get_plugin_manager(disable: Iterable[str] = (), extra_plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """Build a plugin manager: specs, then every ``harness`` entry point not disabled.

    ``extra_plugins`` registers in-process plugin objects too (tests, notebooks).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(disable) | disabled_from_env()
    for name in blocked:
        pm.set_blocked(name)
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra_plugins:
        # Name in-process plugins after their class or module, so messages can name them.
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name if pm.get_plugin(name) is None else None)
    # A misspelt hook name in a plugin would otherwise be silently ignored.
    pm.check_pending()
    return pm


def load_harness(disable: Iterable[str] = (), extra_plugins: Iterable[object] = ()) -> Harness:
    """The usual entry: a plugin manager wrapped with its filled catalogs."""
    return Harness(get_plugin_manager(disable, extra_plugins))


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    hooks: list[str]
    components: dict[str, list[str]]
    blocked: bool = False


def describe_plugins(harness: Harness) -> list[PluginInfo]:
    """One row per plugin: where it comes from, which hooks it implements, what it registers."""
    pm = harness.pm
    dists = {pm.get_name(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows: list[PluginInfo] = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        dist = dists.get(name)
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        components: dict[str, list[str]] = {}
        for kind, catalog in harness.catalogs.items():
            owned = sorted(n for n, owner in catalog.owners.items() if owner == name)
            if owned:
                components[kind] = owned
            refused = sorted(n for n, why in catalog.refused.items() if why.startswith(f"plugin {name!r}:"))
            if refused:
                components[f"{kind} (refused: see the warning)"] = refused
        suites = sorted(s.name for s in harness.suites.values() if s.plugin == name)
        if suites:
            components["suite"] = suites
        rows.append(
            PluginInfo(
                name=name,
                distribution=dist.project_name if dist else "(in-process)",
                version=dist.version if dist else "",
                hooks=hooks,
                components=components,
            )
        )
    for name in sorted(_blocked_names(pm)):
        rows.append(PluginInfo(name, "", "", [], {}, blocked=True))
    return sorted(rows, key=lambda r: (r.blocked, r.name))


def _blocked_names(pm: pluggy.PluginManager) -> set[str]:
    names = set()
    for ep in metadata.entry_points(group=hookspecs.PROJECT):
        if pm.is_blocked(ep.name):
            names.add(ep.name)
    return names
