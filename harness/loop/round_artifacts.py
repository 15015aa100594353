"""What a round leaves on disk besides its verdict: sample generations, the training mix's
token lengths, the one-line summaries printed as it goes, and the config as run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from harness.config import RunConfig
from harness.evaluation import stats
from harness.loop.rundir import read_json, write_json
from harness.records import EvaluationRecord, Example, LoadedModel, RoundPlan
from harness.resolve.run_data import RunData


def sample_prompts(config: RunConfig, data: RunData) -> list[tuple[str, list[dict[str, str]]]]:
    """A few domain prompts (validation split, so unseen in training) and the configured general ones."""
    prompts = []
    for example in data.validation[: config.samples.domain]:
        turns = [{"role": m.role, "content": m.content} for m in example.messages]
        last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
        if last_user is not None:
            prompts.append(("domain", turns[: last_user + 1]))
    prompts += [("general", [{"role": "user", "content": text}]) for text in config.samples.general]
    return prompts


def sample_generations(config: RunConfig, data: RunData, candidate: LoadedModel, base_model: Callable[[], LoadedModel],
                       base_file: Path) -> list[dict[str, str]]:
    """Base and candidate answers to the sample prompts, side by side (the base's cached in ``base_file``)."""
    from harness.models.generation import generate

    prompts = sample_prompts(config, data)
    if not prompts:
        return []
    if base_file.is_file():
        base_outputs = [s["output"] for s in read_json(base_file)]
    else:
        base_outputs = [a.text for a in generate(base_model(), [p for _, p in prompts],
                                                 max_new_tokens=config.samples.max_new_tokens)]
        write_json(base_file, [{"kind": k, "prompt": p[-1]["content"], "output": o}
                               for (k, p), o in zip(prompts, base_outputs)])
    outputs = [a.text for a in generate(candidate, [p for _, p in prompts],
                                        max_new_tokens=config.samples.max_new_tokens)]
    return [{"kind": kind, "prompt": messages[-1]["content"], "base": base, "candidate": out}
            for (kind, messages), base, out in zip(prompts, base_outputs, outputs)]


def data_stats(config: RunConfig, examples: list[Example], tokenizer: Any | None) -> dict[str, Any]:
    """Token lengths of the training mix (the report's histogram), with the model's own tokenizer
    (loaded here, without weights, when the base model is not in memory)."""
    from harness.data.tokenize import token_length
    from harness.models.loading import TokenizerSetup, load_tokenizer, resolve_model

    if tokenizer is None:
        tokenizer = load_tokenizer(resolve_model(config.base_model, config.resolve_path(".")),
                                   config.trust_remote_code, TokenizerSetup.of(config))
    lengths = [token_length(e, tokenizer) for e in examples]
    return {"examples": len(lengths), "token_lengths": lengths,
            "over_sequence_len": sum(1 for n in lengths if n > config.sequence_len),
            "sequence_len": config.sequence_len}


def describe_plan(plan: RoundPlan) -> str:
    if not plan.trained:
        return f"round {plan.source_round}'s weights at s={plan.scale:g} toward the base (no training)"
    return f"general share {plan.general_share:.0%}, learning rate {plan.learning_rate:g}"


def round_summary(plan: RoundPlan, evaluation: EvaluationRecord) -> str:
    lines = [f"round {plan.index} results ({evaluation.status.upper() or ('PASS' if evaluation.passed else 'FAIL')}, "
             f"threshold {evaluation.threshold}% {evaluation.policy}):"]
    for name, c in {**evaluation.forgetting, **evaluation.gain}.items():
        kind = "forgetting" if name in evaluation.forgetting else "gain"
        value = c.relative if kind == "forgetting" else -c.relative
        lo, hi = (c.relative_ci.low, c.relative_ci.high) if kind == "forgetting" else (-c.relative_ci.high, -c.relative_ci.low)
        status = stats.status_label(c.status, evaluation.policy)
        lines.append(f"  {name:<22} {c.base:.3f} -> {c.candidate:.3f}  {kind} {stats.format_pct(value)} "
                     f"[{stats.format_pct(lo)}, {stats.format_pct(hi)}] n={c.n}  {status}")
    return "\n".join(lines)


def config_snapshot(config: RunConfig) -> dict[str, Any]:
    """The config as run, with local data paths made absolute so the snapshot stands alone."""
    snapshot = config.model_dump(mode="json", exclude={"callbacks"})
    for key, specs in (("datasets", snapshot["datasets"]), ("general_data", snapshot["mitigation"]["general_data"])):
        for spec in specs:
            if "://" not in spec["path"] and not spec["path"].startswith("builtin:"):
                spec["path"] = str(config.resolve_path(spec["path"]).resolve())
    return snapshot
