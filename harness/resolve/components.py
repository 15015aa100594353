"""The run's plugins, built from the config with their validated options, before any model loads.

Every named trainer, mixer, policy (with the policies it hands over to) and benchmark
(the suite expanded, ``benchmarks.options`` shared out) is instantiated and checked
here once; ``harness validate`` builds them too, so what fails here fails in a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness.components import Benchmark
from harness.config import BenchmarkRef, RunConfig
from harness.errors import UsageError
from harness.plugins import Harness


@dataclass
class Components:
    """The run's plugins, built with their validated options before anything loads."""

    trainer: Any
    mixer: Any
    policy: Any
    general: list[Benchmark]
    domain: list[Benchmark]
    limits: dict[str, int | None] = field(default_factory=dict)


def _build(harness: Harness, kind: str, ref: Any) -> Any:
    cls = harness.component(kind, ref.name)
    return cls(cls.Options.model_validate(ref.options))


def build_components(config: RunConfig, harness: Harness) -> Components:
    """Every plugin of the run, built and checked (benchmarks included) before any model loads."""
    bench = config.benchmarks
    general_refs = list(bench.general)
    if not general_refs and bench.suite:
        general_refs = [BenchmarkRef(name=n) for n in harness.suite(bench.suite).benchmarks]
    general_refs = shared_benchmark_options(harness, general_refs, bench.options)
    domain_refs = shared_benchmark_options(harness, list(bench.domain), bench.options)
    general = [_build_benchmark(harness, "general", r) for r in general_refs]
    domain = [_build_benchmark(harness, "domain", r) for r in domain_refs]
    unused = set(bench.options) - {key for b in [*general, *domain] for key in type(b.options).model_fields}
    if unused:
        raise UsageError(f"benchmarks.options: no benchmark of this run takes {', '.join(sorted(unused))}")
    problems = [f"benchmarks: {b.name}: {problem}" for b in [*general, *domain] for problem in b.configuration_problems()]
    if problems:
        raise UsageError("\n".join(problems))
    seen: dict[str, str] = {}
    for where, instance in [*(("general", b) for b in general), *(("domain", b) for b in domain)]:
        if instance.name in seen:
            raise UsageError(f"benchmarks.{where}: {instance.name!r} is listed twice (also in "
                             f"benchmarks.{seen[instance.name]}); each benchmark can be measured once per run")
        seen[instance.name] = where
    # Only what a benchmark sets itself: under the sequential policy it caps that
    # benchmark's looks; elsewhere benchmarks.limit applies.
    limits = {b.name: r.limit for b, r in zip([*general, *domain], [*general_refs, *domain_refs]) if r.limit}
    trainer = _build(harness, "trainer", config.trainer)
    # Fail here, before any model loads (e.g. external weights that do not exist); what needs a GPU
    # is checked when a run starts (harness.hardware), so a config validates on any machine.
    trainer.check_environment(config)
    return Components(
        trainer=trainer,
        mixer=_build(harness, "mixer", config.mitigation.mixer),
        policy=build_policy(harness, config.mitigation.policy.name, config.mitigation.policy.options),
        general=general,
        domain=domain,
        limits=limits,
    )


def shared_benchmark_options(harness: Harness, refs: list[Any], shared: dict[str, Any]) -> list[Any]:
    """``refs`` with ``benchmarks.options`` added where each benchmark's Options take the key."""
    if not shared:
        return refs
    from harness.evaluation.scoring import options_taken

    out = []
    for ref in refs:
        given = options_taken(harness.component("benchmark", ref.name), shared)
        out.append(type(ref)(**{**ref.model_dump(exclude_none=True), **given, **ref.options, "name": ref.name}))
    return out


def _build_benchmark(harness: Harness, section: str, ref: Any) -> Benchmark:
    from pydantic import ValidationError

    try:
        return _build(harness, "benchmark", ref)
    except ValidationError as error:
        raise UsageError(f"benchmarks.{section}: {ref.name!r}: invalid options: {error}") from None


def build_policy(harness: Harness, name: str, options: dict[str, Any]) -> Any:
    """The policy ``name`` and, when its options name one (``then``), the policy it hands over to.

    The chain is checked by the one rule config validation uses (an unknown follower, bad
    options, a loop), so a config built in code is held to it too, then built without re-checking.
    """
    from harness.resolve.config_file import policy_chain_issues

    cls = harness.component("policy", name)
    try:
        options_model = cls.Options.model_validate(options)
    except ValidationError as error:
        raise UsageError(f"mitigation.policy {name!r}: invalid options: {error}") from None
    issues = policy_chain_issues("mitigation.policy", name, options_model, harness)
    if issues:
        raise UsageError("\n".join(str(issue) for issue in issues))
    policy = cls(options_model)
    current = policy
    while getattr(current.options, "then", None):
        follower = harness.component("policy", current.options.then)
        current.then = follower(follower.Options.model_validate(getattr(current.options, "then_options", {}) or {}))
        current = current.then
    return policy
