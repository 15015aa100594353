"""A Hub model card for a run's chosen weights: the evidence travels with the model.

The card is a README.md whose YAML front matter is what the Hugging Face Hub reads
(``base_model``, ``library_name``, ``tags``, ``datasets``, and a ``model-index`` with
one result per benchmark, written through ``huggingface_hub``'s own ``ModelCardData``
so the Hub parses it as it parses any card), then the forgetting table with its
intervals and statuses, the domain gain, the verdict, the training settings and how
to load the model. Everything comes from the run folder (verdict.json, config.yml),
so a card can be written again for any finished run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.evaluation.gate import verdict_status, markdown_summary, read_verdict
from harness.run_record import RunVerdict

CARD_NAME = "README.md"
# Settings a reader of the card wants, in this order (the config keeps the rest).
SHOWN_SETTINGS = ("adapter", "lora_r", "lora_alpha", "lora_dropout", "learning_rate", "lr_scheduler", "num_epochs",
                  "max_steps", "micro_batch_size", "gradient_accumulation_steps", "sequence_len", "optimizer",
                  "bf16", "seed")


def chosen_weights(run_dir: Path, verdict: RunVerdict) -> Path | None:
    """The chosen round's weights folder; a run folder that was moved still finds its own."""
    recorded = verdict.chosen().weights
    if not recorded:
        return None
    path = Path(recorded)
    if path.exists():
        return path
    parts = path.parts
    if "rounds" in parts:  # recorded inside the run folder before it moved
        moved = Path(run_dir).joinpath(*parts[parts.index("rounds"):])
        if moved.exists():
            return moved
    return None


def _on_hub(name: str) -> bool:
    """``OWNER/NAME`` that is no local folder: a Hub id (the Hub refuses any other base_model)."""
    from harness.data.sources import bare_hub_id

    return bare_hub_id(name)


def is_adapter(weights: Path | None) -> bool:
    return weights is not None and (weights / "adapter_config.json").is_file()


def _hub_datasets(config: dict[str, Any]) -> list[str]:
    """Hub data set ids the run trained on (local files are not named: they are not on the Hub)."""
    from harness.data.sources import bare_hub_id, is_hub, parse_hub_path

    entries = list(config.get("datasets") or [])
    entries += list(((config.get("mitigation") or {}).get("general_data")) or [])
    ids = []
    for entry in entries:
        path = str((entry or {}).get("path", ""))
        if is_hub(path):
            path = parse_hub_path(path).name
        elif not bare_hub_id(path):
            continue
        if path not in ids:
            ids.append(path)
    return ids


def card_data(run_dir: Path, verdict: RunVerdict, config: dict[str, Any], model_name: str) -> Any:
    """The front matter, as ``huggingface_hub.ModelCardData``: model-index results per benchmark."""
    from huggingface_hub import EvalResult, ModelCardData

    chosen = verdict.chosen()
    status, _ = verdict_status(verdict)
    results = []
    for role, comparisons in (("general", chosen.forgetting), ("domain", chosen.gain)):
        for name, c in comparisons.items():
            common = dict(task_type="text-generation", dataset_type=name, dataset_name=name)
            results.append(EvalResult(**common, metric_type=c.metric or "score",
                                      metric_value=round(float(c.candidate), 4),
                                      metric_name=f"{c.metric or 'score'} (n={c.n})"))
            if role == "general":
                results.append(EvalResult(**common, metric_type="relative_forgetting_pct",
                                          metric_value=round(float(c.relative), 2),
                                          metric_name=f"forgetting vs base, % ({c.status})"))
    weights = chosen_weights(run_dir, verdict)
    tags = ["harness", "forgetting-evaluated", f"forgetting-gate-{status}"]
    if is_adapter(weights):
        tags += ["lora", "peft"]
    return ModelCardData(
        base_model=verdict.base_model if _on_hub(verdict.base_model) else None,
        library_name="peft" if is_adapter(weights) else "transformers",
        tags=tags,
        datasets=_hub_datasets(config) or None,
        model_name=model_name,
        eval_results=results or None,
    )


def model_card(run_dir: Path, model_name: str | None = None) -> str:
    """The card's full text for the run in ``run_dir`` (front matter, tables, settings, loading)."""
    from huggingface_hub import ModelCard

    run_dir = Path(run_dir)
    verdict = read_verdict(run_dir)  # JSON (an unbounded interval is Infinity, which YAML reads as text)
    config_file = run_dir / "config.yml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    name = model_name or run_dir.name
    data = card_data(run_dir, verdict, config or {}, name)
    status, _ = verdict_status(verdict)
    weights = chosen_weights(run_dir, verdict)
    config = config or {}
    trainer = (config.get("trainer") or {}).get("name") if isinstance(config.get("trainer"), dict) else config.get(
        "trainer")
    shown = [key for key in SHOWN_SETTINGS if is_adapter(weights) or not key.startswith("lora_")]
    settings = [("trainer", trainer)] * bool(trainer) + [(key, config[key]) for key in shown
                                                         if config.get(key) is not None]
    base = verdict.base_model
    base_link = f"[`{base}`](https://huggingface.co/{base})" if _on_hub(base) else f"`{base}`"
    body = [
        f"# {name}",
        "",
        f"Fine-tuned from {base_link} and checked "
        f"for catastrophic forgetting with harness: **{status.upper()}** at {verdict.threshold:g}% relative "
        "degradation on every general benchmark. Each number below comes with its sample size and a 95% "
        "interval; \"undecided\" means the items scored could not tell a pass from a fail.",
        "",
        markdown_summary(verdict).replace("## Forgetting gate", "## Forgetting verdict", 1),
        "",
        "## Training settings",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| `{key}` | {value} |" for key, value in settings],
        "",
        "## How to load",
        "",
        "```python",
        *(["from peft import AutoPeftModelForCausalLM",
           "from transformers import AutoTokenizer",
           "",
           'model = AutoPeftModelForCausalLM.from_pretrained("REPO")',
           'tokenizer = AutoTokenizer.from_pretrained("REPO")'] if is_adapter(weights) else
          ["from transformers import AutoModelForCausalLM, AutoTokenizer",
           "",
           'model = AutoModelForCausalLM.from_pretrained("REPO")',
           'tokenizer = AutoTokenizer.from_pretrained("REPO")']),
        "```",
        "",
        "`REPO` is this repository's id, or the folder holding these files.",
        "",
    ]
    return str(ModelCard("---\n" + data.to_yaml() + "\n---\n\n" + "\n".join(body)))


def write_model_card(run_dir: Path, model_name: str | None = None) -> Path:
    """Write the card beside the chosen weights when they are in the run folder, else as the folder's
    model-card.md (weights trained elsewhere stay untouched)."""
    from harness.files import write_atomic

    run_dir = Path(run_dir)
    verdict = read_verdict(run_dir)  # JSON (an unbounded interval is Infinity, which YAML reads as text)
    weights = chosen_weights(run_dir, verdict)
    inside = weights is not None and weights.resolve().is_relative_to(run_dir.resolve())
    target = weights / CARD_NAME if inside else run_dir / "model-card.md"
    write_atomic(target, model_card(run_dir, model_name))
    return target


__all__ = ["CARD_NAME", "card_data", "chosen_weights", "model_card", "write_model_card"]
