"""A run's data: every source read and validated, the domain data split into train and validation.

``harness run``, ``harness train`` and ``harness lr-find`` read data through here, so
they see the same examples, the same length checks and the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.config import RunConfig
from harness.errors import UsageError
from harness.plugins import Harness
from harness.records import DataSource, Example


@dataclass
class RunData:
    train: list[Example]
    validation: list[Example]
    domain: DataSource
    general: list[DataSource]
    manifest: dict[str, Any]

    @classmethod
    def nothing(cls) -> RunData:
        """No data: a run that judges weights trained elsewhere and names no data files."""
        return cls([], [], DataSource("domain", []), [], {"sources": [], "lengths": {}, "split": {}})


def prepare_data(config: RunConfig, harness: Harness) -> RunData:
    """Read and validate every source, split domain data into train/validation."""
    from harness.data import examples as data_io
    from harness.data.sources import load_spec

    if not config.datasets:
        raise UsageError("datasets: the run needs at least one domain data file")
    base_dir = config.resolve_path(".")
    domain_examples: list[Example] = []
    sources_manifest = []
    for spec in config.datasets:
        source = load_spec(spec, harness, base_dir=base_dir, on_error=config.invalid_lines)
        examples = source.examples[: spec.max_samples] if spec.max_samples else source.examples
        domain_examples += examples
        sources_manifest.append({"role": "domain", "path": spec.path, "type": spec.type, "examples": len(examples),
                                 "duplicates": len(data_io.find_duplicates(examples)),
                                 "sha256": data_io.examples_digest(examples)})
    domain_examples, lengths = _check_lengths(domain_examples, config)
    train, validation = data_io.validation_split(domain_examples, config.val_set_size, config.seed)
    general = []
    for spec in config.mitigation.general_data:
        source = load_spec(spec, harness, base_dir=base_dir, on_error=config.invalid_lines)
        general.append(source)
        sources_manifest.append({"role": "general", "path": spec.path, "type": spec.type,
                                 "examples": len(source.examples), "weight": source.weight,
                                 "max_samples": source.max_samples, "sha256": source.sha256})
    domain = DataSource("domain", train, sha256=data_io.examples_digest(train))
    manifest = {
        "sources": sources_manifest,
        "lengths": lengths,
        "split": {"train": len(train), "validation": len(validation), "val_set_size": config.val_set_size,
                  "seed": config.seed, "train_sha256": domain.sha256,
                  "validation_sha256": data_io.examples_digest(validation)},
    }
    return RunData(train, validation, domain, general, manifest)


def _check_lengths(examples: list[Example], config: RunConfig) -> tuple[list[Example], dict[str, Any]]:
    """Apply ``over_length`` to the domain data with the base model's own tokenizer (no weights load)."""
    from harness.data.chat_templates import missing_template_message
    from harness.data.lengths import check_lengths
    from harness.models.loading import TokenizerSetup, load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(config.base_model, config.resolve_path(".")), config.trust_remote_code,
                               TokenizerSetup.of(config))
    if not tokenizer.chat_template and any(e.is_chat for e in examples):
        raise UsageError(missing_template_message(config.base_model))  # before any weights load
    kept, report = check_lengths(examples, tokenizer, config.sequence_len, config.over_length, config.train_on)
    return kept, {"sequence_len": config.sequence_len, "over_length": config.over_length,
                  "over": len(report.over), "kept": len(kept), "max_tokens": max(report.lengths, default=0)}
