"""Axolotl configs carry over: every Axolotl setting is honoured, ignored with why, or refused with instead.

The seed tells teams to train with Axolotl, so its configs are harness configs. A run
config's top-level keys pass through :func:`translate` before validation:

- **empty** (``wandb_project:``): unset, as Axolotl reads it;
- **honoured**: the key is a harness setting of the same name (``warmup_ratio``,
  ``lora_target_linear`` ...; see :data:`HONOURED`), or is rewritten into one
  (``train_on_inputs`` -> ``train_on``, ``flash_attention`` -> ``attn_implementation``);
- **ignored**: removed, with one note saying why it changes nothing here;
- **refused**: one problem line naming what to use instead. A name from Axolotl's
  schema (:mod:`harness.axolotl_schema`) that this table does not list is refused as
  an Axolotl setting with no harness equivalent, never as an "unknown key".

Only the table decides; the README's table is generated from it in words.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from harness.axolotl_schema import AXOLOTL_KEYS

# Harness settings that are Axolotl's own keys, with Axolotl's meaning (the engine reads them).
HONOURED = (
    "base_model", "model_type", "tokenizer_type", "trust_remote_code", "chat_template", "chat_template_jinja",
    "datasets", "val_set_size", "sequence_len", "special_tokens", "seed", "adapter", "lora_r", "lora_alpha",
    "lora_dropout", "lora_target_modules", "lora_target_linear", "lora_modules_to_save", "lora_model_dir",
    "peft_use_dora", "peft_use_rslora", "load_in_8bit", "load_in_4bit", "resume_from_checkpoint",
    "micro_batch_size", "batch_size", "gradient_accumulation_steps", "num_epochs", "max_steps", "learning_rate",
    "lr_scheduler", "lr_scheduler_kwargs", "warmup_steps", "warmup_ratio", "optimizer", "weight_decay",
    "max_grad_norm", "gradient_checkpointing", "gradient_checkpointing_kwargs", "bf16", "fp16", "tf32",
    "output_dir", "logging_steps", "eval_steps", "evals_per_epoch", "save_steps", "saves_per_epoch",
    "save_total_limit", "eval_batch_size", "group_by_length", "attn_implementation", "early_stopping_patience",
    "train_on_inputs", "flash_attention", "sdp_attention", "eager_attention", "flex_attention", "sample_packing",
    "eval_sample_packing", "pad_to_sequence_len", "dataset_prepared_path", "strict", "fsdp", "fsdp_config",
    "fsdp_version", "deepspeed", "hub_model_id", "mlflow_tracking_uri", "mlflow_experiment_name", "use_tensorboard",
    "wandb_project", "wandb_entity", "wandb_name", "wandb_mode", "bfloat16",
)

# Accepted and removed: why each changes nothing that harness computes.
IGNORED: dict[str, str] = {
    "sample_packing_eff_est": "an estimate of packing's fill that Axolotl's step count uses; harness counts "
                              "the packed rows themselves",
    "save_first_step": "a check that saving works; harness saves atomically at every save step",
    "auto_resume_from_checkpoints": "harness resumes from the last complete checkpoint with `harness run --resume`",
    "xformers_attention": "a memory-efficient attention kernel: speed only, and none applies on a CPU",
    "flash_attn_cross_entropy": "a fused kernel: speed only",
    "flash_attn_rms_norm": "a fused kernel: speed only",
    "flash_attn_fuse_qkv": "a fused kernel: speed only",
    "flash_attn_fuse_mlp": "a fused kernel: speed only",
    "liger_rope": "a fused kernel: speed only", "liger_rms_norm": "a fused kernel: speed only",
    "liger_glu_activation": "a fused kernel: speed only", "liger_fused_linear_cross_entropy": "a fused kernel: speed only",
    "wandb_watch": "gradient logging during training; the wandb tracker sends the finished run's results",
    "wandb_log_model": "model upload to W&B; publish the chosen weights with hub_model_id or harness publish",
    "debug": "Axolotl's own debug printing",
    "dataset_processes": "tokenization runs in one process here (seconds at this scale)",
    "dataloader_num_workers": "harness loads batches in the training process",
    "dataloader_pin_memory": "harness loads batches in the training process",
    "dataloader_prefetch_factor": "harness loads batches in the training process",
    "ddp_timeout": "harness sets the launcher's defaults",
    "torch_compile": "not used: compiling the model changes no number, and costs minutes on a CPU",
}

# Refused: what to use instead. A value in ``INERT`` (Axolotl's own default) is unset instead.
REFUSED: dict[str, str] = {
    "wandb_run_id": "trackers: [{name: wandb, ...}] starts a new W&B run per harness run; resuming another "
                    "tool's W&B run is not supported",
    "dataset_shard_num": "max_samples on the dataset takes a subset",
    "dataset_shard_idx": "max_samples on the dataset takes a subset",
}
# Values that mean "off" for a refused key: Axolotl's defaults, read as unset.
INERT = (None, False, "", [], {})



@dataclass
class Translation:
    """A config after :func:`translate`: the data to validate, notes to show, problems to refuse."""

    data: dict[str, Any]
    notes: list[str]
    refused: list[tuple[str, str, Any]]  # (key path, message, value)


def _rewrite_attention(value: Any, implementation: str) -> dict[str, Any]:
    return {"attn_implementation": implementation} if value else {}


# Axolotl keys whose meaning harness spells as another setting: key -> (value -> harness keys).
REWRITES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "train_on_inputs": lambda value: {"train_on": "all" if value else "assistant"},
    "early_stopping_patience": lambda value: {"early_stopping": {"patience": value}},
    "flash_attention": lambda value: _rewrite_attention(value, "flash_attention_2"),
    "sdp_attention": lambda value: _rewrite_attention(value, "sdpa"),
    "eager_attention": lambda value: _rewrite_attention(value, "eager"),
    "flex_attention": lambda value: _rewrite_attention(value, "flex_attention"),
    # Axolotl's "no AMP, bf16 weights": harness keeps the update exact (training/lean_precision.py).
    "bfloat16": lambda value: {"master_weights": "bfloat16"} if value else {},
}


# Axolotl's tracker keys -> (harness tracker, its option; None: the key only turns it on).
TRACKER_KEYS: dict[str, tuple[str, str | None]] = {
    "mlflow_tracking_uri": ("mlflow", "tracking_uri"),
    "mlflow_experiment_name": ("mlflow", "experiment"),
    "use_tensorboard": ("tensorboard", None),
    "wandb_project": ("wandb", "project"),
    "wandb_entity": ("wandb", "entity"),
    "wandb_name": ("wandb", "name"),
    "wandb_mode": ("wandb", "mode"),
}


def translate(data: Any, harness_keys: set[str]) -> Translation:
    """Apply the table to a config's top level (see the module docstring); other shapes pass through."""
    if not isinstance(data, dict):
        return Translation(data, [], [])
    data = copy.deepcopy(data)  # dataset entries are edited below; the caller's mapping stays as given
    out: dict[str, Any] = {}
    notes: list[str] = []
    refused: list[tuple[str, str, Any]] = []
    trackers: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if value is None and key not in ("trainer",):
            continue  # an empty key is unset, as Axolotl reads it
        if key in TRACKER_KEYS:
            tracker, option = TRACKER_KEYS[key]
            if value not in INERT:
                trackers.setdefault(tracker, {"name": tracker}).update({option: value} if option else {})
            continue
        if key in REWRITES:
            for new_key, new_value in REWRITES[key](value).items():
                if new_key in data and data[new_key] not in INERT and data[new_key] != new_value:
                    refused.append((key, f"says {new_key}: {new_value!r} but {new_key} is also given as "
                                         f"{data[new_key]!r}; keep one", value))
                out.setdefault(new_key, new_value)
            continue
        if key in harness_keys:
            out[key] = value
        elif key in IGNORED:
            notes.append(f"{key}: ignored: {IGNORED[key]}")
        elif key in REFUSED:
            if value in INERT:
                continue
            refused.append((key, f"not supported here; instead: {REFUSED[key]}", value))
        elif key in AXOLOTL_KEYS:
            if value in INERT:
                continue
            refused.append((key, "an Axolotl setting harness has no equivalent for; remove it", value))
        else:
            out[key] = value  # neither harness's nor Axolotl's: validation names it
    if trackers:
        named = {(t if isinstance(t, str) else t.get("name")) for t in out.get("trackers") or []}
        out["trackers"] = list(out.get("trackers") or []) + [t for n, t in trackers.items() if n not in named]
    for where, entry in _dataset_entries(out):
        kind = entry.pop("ds_type", None)
        if kind in (None, "json", "jsonl"):
            if kind:
                notes.append(f"{where}.ds_type: ignored: harness reads JSON and JSONL files by their content")
        else:
            refused.append((f"{where}.ds_type", "harness reads JSON and JSONL data; instead: convert the file to JSONL",
                            kind))
    return Translation(out, notes, refused)


def _dataset_entries(data: dict[str, Any]):
    """(path, entry) for each dataset mapping of the config (domain and general data)."""
    general = (data.get("mitigation") or {}).get("general_data") if isinstance(data.get("mitigation"), dict) else None
    for section, entries in (("datasets", data.get("datasets")), ("mitigation.general_data", general)):
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                yield f"{section}[{i}]", entry


def markdown_table() -> str:
    """What becomes of each Axolotl key, as the README's linked table shows it (generated, so it cannot rot)."""
    rows = ["| Axolotl key | here | why, or what to use instead |", "|---|---|---|"]
    rewritten = {"train_on_inputs": "as train_on (all / assistant)", "early_stopping_patience": "as early_stopping",
                 "flash_attention": "as attn_implementation: flash_attention_2",
                 "sdp_attention": "as attn_implementation: sdpa", "eager_attention": "as attn_implementation: eager",
                 "flex_attention": "as attn_implementation: flex_attention",
                 "bfloat16": "as master_weights: bfloat16 (bf16 weights, float32 optimizer moments, "
                             "stochastically rounded updates)",
                 "load_in_8bit": "LoRA over an 8-bit base (bitsandbytes): a CUDA GPU; a CPU run stops at its start",
                 "load_in_4bit": "with adapter: qlora, which loads the base in 4-bit (a CUDA GPU)",
                 "resume_from_checkpoint": "the first round continues from that checkpoint (harness run --resume "
                                           "continues a harness run)",
                 "sample_packing": "examples packed into rows of up to sequence_len, each seeing only itself "
                                   "(position ids restart per example)",
                 "eval_sample_packing": "the validation rows packed too; unset: as sample_packing",
                 "pad_to_sequence_len": "every micro-batch padded to sequence_len (constant shapes); unset: as "
                                        "sample_packing",
                 "dataset_prepared_path": "the tokenized (and packed) rows kept there; a run that would prepare "
                                          "the same rows reads them",
                 "fsdp": "FSDP over the processes of an `accelerate launch` / torchrun launch: on GPUs "
                         "transformers' (FSDP2 by default), on CPUs harness's own FSDP2 over gloo; without a "
                         "launcher the run stops at its start, saying so",
                 "fsdp_config": "Axolotl's fsdp_-prefixed keys, read as transformers' (offload_params as "
                                "cpu_offload, sharding_strategy as reshard_after_forward)",
                 "fsdp_version": "as fsdp_config.version (2 when unset)",
                 "deepspeed": "a DeepSpeed JSON config (ZeRO) under a GPU launch, with the deepspeed package; "
                              "elsewhere the run stops at its start, saying so",
                 "hub_model_id": "the chosen weights, their model card and the evidence are pushed there when "
                                 "the verdict passes (not on fail or undecided; `harness publish` does it by hand)",
                 "mlflow_tracking_uri": "as trackers: [{name: mlflow, tracking_uri: ...}] (the finished run: "
                                        "params, per-round benchmark metrics, reports as artifacts)",
                 "mlflow_experiment_name": "as the mlflow tracker's experiment",
                 "use_tensorboard": "as trackers: [tensorboard] (event files in the run folder)",
                 "wandb_project": "as trackers: [{name: wandb, project: ...}] (the finished run: config, "
                                  "per-round benchmark metrics, reports as an artifact)",
                 "wandb_entity": "as the wandb tracker's entity", "wandb_name": "as the wandb tracker's run name",
                 "wandb_mode": "as the wandb tracker's mode (online, offline, disabled)",
                 "strict": "with true, `--set KEY=VALUE` on the command line may change only keys the file sets",
                 "optimizer": "the bitsandbytes ones too (adamw_bnb_8bit, paged_adamw_8bit, ...): a CUDA GPU; "
                              "a CPU run stops at its start"}
    for key in sorted(HONOURED):
        rows.append(f"| `{key}` | honoured | {rewritten.get(key, 'same name, same meaning')} |")
    for key in sorted(IGNORED):
        rows.append(f"| `{key}` | ignored | {IGNORED[key]} |")
    for key in sorted(REFUSED):
        rows.append(f"| `{key}` | refused | {REFUSED[key]} |")
    others = len(AXOLOTL_KEYS - set(HONOURED) - set(IGNORED) - set(REFUSED))
    return "\n".join([
        "# Axolotl keys in harness",
        "",
        "Generated from `harness/axolotl.py` (`python -m harness.axolotl`); a test keeps it in step.",
        "An empty key (`wandb_project:`) is unset, as Axolotl reads it; a refused key set to its off value "
        "(`false`, empty) is unset too.",
        "",
        *rows,
        "",
        f"The other {others} names in Axolotl's schema (`harness/axolotl_schema.py`) are refused as settings "
        "harness has no equivalent for.",
        "",
        "In each of `datasets`: `path` (a local JSONL/JSON file, or a hub id such as `tatsu-lab/alpaca`), `split` "
        "(default train), `name` (for a hub id, its configuration, as Axolotl reads it) and `data_files` (some of "
        "its files), `ds_type` (json/jsonl; other formats are refused), `type` (`chat_template`, `alpaca`, "
        "`sharegpt`, `input_output` (template-free segments), `completion`, ...), and for "
        "`chat_template` `field_messages`, `message_field_role`, `message_field_content`, `roles` and "
        "`roles_to_train` (`[assistant]`; every token is `train_on: all`).",
        "",
    ])


if __name__ == "__main__":
    print(markdown_table(), end="")
