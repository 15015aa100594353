"""Axolotl configs carry over: honoured keys change what the engine does, the rest is ignored or refused in one line.

The configs here are written from Axolotl's documented schema (its config reference and
the shape of its examples: empty keys, LoRA, QLoRA, FSDP, DeepSpeed), not copied.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.config import RunConfig
from harness.resolve.config_file import parse_config
from harness.plugins import load_harness
from harness.testing import chat_records, write_jsonl


def _axolotl_lora(tmp_path: Path, **changes) -> Path:
    data = write_jsonl(tmp_path / "data.jsonl", chat_records(12))
    config = {
        "base_model": "smollm2-135m-instruct", "model_type": "LlamaForCausalLM", "tokenizer_type": "AutoTokenizer",
        "load_in_8bit": False, "load_in_4bit": False, "strict": False,
        "datasets": [{"path": str(data), "type": "chatml"}], "dataset_prepared_path": None, "val_set_size": 0.05,
        "output_dir": "./outputs/lora-out", "sequence_len": 512, "sample_packing": True,
        "eval_sample_packing": False, "pad_to_sequence_len": True,
        "adapter": "lora", "lora_model_dir": None, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
        "lora_target_linear": True, "lora_modules_to_save": ["embed_tokens"], "peft_use_rslora": True,
        "wandb_project": None, "wandb_entity": None, "wandb_watch": None, "wandb_name": None, "wandb_log_model": None,
        "gradient_accumulation_steps": 4, "micro_batch_size": 2, "num_epochs": 1, "optimizer": "adamw_torch",
        "lr_scheduler": "cosine", "learning_rate": 0.0002, "train_on_inputs": False, "group_by_length": False,
        "bf16": "auto", "tf32": False, "gradient_checkpointing": True,
        "gradient_checkpointing_kwargs": {"use_reentrant": True}, "resume_from_checkpoint": None,
        "logging_steps": 1, "sdp_attention": True, "flash_attention": False, "warmup_ratio": 0.1,
        "evals_per_epoch": 4, "saves_per_epoch": 2, "weight_decay": 0.0, "early_stopping_patience": 3,
        "special_tokens": None,
    }
    config.update(changes)
    path = tmp_path / "axolotl.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _parse(path: Path) -> RunConfig:
    return parse_config(yaml.safe_load(path.read_text()), load_harness(), str(path), path.parent)


@pytest.mark.slow
def test_an_axolotl_lora_config_validates_with_one_note_per_ignored_key(tmp_path, capsys):
    path = _axolotl_lora(tmp_path, xformers_attention=True, torch_compile=False)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.strip().startswith("note:")]
    assert {line.split(":")[1].strip() for line in notes} == {"xformers_attention", "torch_compile"}
    config = _parse(path)
    assert config.sample_packing and config.pad_to_sequence_len and config.eval_sample_packing is False
    # Rewritten into harness's own settings, with Axolotl's meaning.
    assert config.train_on == "assistant" and config.early_stopping.patience == 3
    assert config.attn_implementation == "sdpa"


@pytest.mark.parametrize("changes, key, instead", [
    ({"load_in_4bit": True}, "<root>", "adapter: qlora"),
    ({"wandb_run_id": "abc"}, "wandb_run_id", "new W&B run"),
    ({"neftune_noise_alpha": 5}, "neftune_noise_alpha", "no equivalent"),
])
def test_refused_axolotl_keys_say_what_to_use_instead_in_one_line(tmp_path, capsys, changes, key, instead):
    assert main(["validate", str(_axolotl_lora(tmp_path, **changes))]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip().startswith(f"- {key}:")]
    assert len(lines) == 1 and instead in lines[0], err
    assert "allowed keys" not in err and "the keys it takes" not in err


def test_qlora_is_4bit_loading_so_load_in_4bit_goes_with_it_only():
    harness = load_harness()
    assert parse_config({"adapter": "qlora", "load_in_4bit": True, "base_model": "m"}, harness).load_in_4bit
    with pytest.raises(Exception, match="write adapter: qlora"):
        parse_config({"adapter": "lora", "load_in_4bit": True, "base_model": "m"}, harness)


def test_unknown_keys_list_a_section_once_and_hint_only_near_misses(tmp_path, capsys):
    path = _axolotl_lora(tmp_path, learning_rat=0.1, bogus_one=1, bogus_two=2)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "learning_rat: unknown key; did you mean 'learning_rate'?" in err
    assert err.count("the keys it takes") == 1  # once for the top level, not once per unknown key
    assert len([line for line in err.splitlines() if "bogus" in line]) == 2
    # Similar but unrelated names get no did-you-mean.
    path = _axolotl_lora(tmp_path, deepspeedx=1)
    main(["validate", str(path)])
    assert "did you mean 'seed'" not in capsys.readouterr().err


# ------------------------------------------------------------ honoured keys change the engine


def test_warmup_ratio_and_saves_per_epoch_set_the_step_plan(tmp_path):
    from harness.training.arguments import plan_steps

    config = _parse(_axolotl_lora(tmp_path, evals_per_epoch=None, early_stopping_patience=None))
    plan = plan_steps(config, n_examples=800)  # 800 / (2 x 4) = 100 steps per epoch
    assert plan.total_steps == 100 and plan.warmup_steps == 10 and plan.save_steps == 50
    config.warmup_steps = 3  # an explicit warmup_steps wins, as in Axolotl
    assert plan_steps(config, n_examples=800).warmup_steps == 3


def test_gradient_checkpointing_kwargs_reach_the_trainer_arguments(tmp_path):
    from harness.training.arguments import plan_steps, training_arguments

    config = _parse(_axolotl_lora(tmp_path))
    args = training_arguments(config, plan_steps(config, 100), tmp_path / "ckpt", has_validation=False)
    assert args.gradient_checkpointing and args.gradient_checkpointing_kwargs == {"use_reentrant": True}


def test_lora_keys_shape_the_adapter_on_the_built_model(tiny_model_dir, tmp_path):
    from peft.tuners.lora import LoraLayer

    from harness.training import attach_lora, load_for_training

    config = _parse(_axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None,
                                  attn_implementation="eager", sdp_attention=None))
    model, _ = load_for_training(config, frozen=True)
    assert model.config._attn_implementation == "eager"
    peft_model = attach_lora(model, config)
    adapted = {name.rsplit(".", 1)[-1] for name, module in peft_model.named_modules() if isinstance(module, LoraLayer)}
    # lora_target_linear: every linear projection, the output head excepted.
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    layer = next(m for m in peft_model.modules() if isinstance(m, LoraLayer))
    assert layer.scaling["default"] == pytest.approx(16 / math.sqrt(8))  # rsLoRA: alpha / sqrt(r)
    saved = [name for name, p in peft_model.named_parameters() if p.requires_grad and "embed_tokens" in name]
    assert saved, "lora_modules_to_save: the embeddings train in full beside the adapter"


def test_dora_is_used_when_asked(tiny_model_dir, tmp_path):
    from harness.training import attach_lora, load_for_training

    config = _parse(_axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None, peft_use_dora=True,
                                  lora_modules_to_save=None))
    model, _ = load_for_training(config, frozen=True)
    peft_model = attach_lora(model, config)
    assert peft_model.peft_config["default"].use_dora
    assert any("lora_magnitude_vector" in name for name, _ in peft_model.named_parameters())


def test_the_documented_key_table_is_the_one_the_code_applies():
    from harness.axolotl import markdown_table

    documented = (Path(__file__).resolve().parents[2] / "docs" / "axolotl-keys.md").read_text(encoding="utf-8")
    assert documented == markdown_table(), "regenerate: python -m harness.axolotl > docs/axolotl-keys.md"


def test_bf16_true_on_a_cpu_without_native_bf16_is_said_before_work_starts(tmp_path, monkeypatch, capsys):
    import harness.models.loading as loading

    monkeypatch.setattr(loading, "cpu_supports_bf16", lambda: False)  # the AMD EPYC case, on any CPU
    monkeypatch.setattr(loading, "pick_device", lambda requested="auto": "cpu")
    assert main(["validate", str(_axolotl_lora(tmp_path, bf16=True))]) == 0
    out = capsys.readouterr().out
    assert "warning: bf16: true on a CPU without native bf16" in out and "bf16: auto" in out
    assert main(["validate", str(_axolotl_lora(tmp_path, bf16="auto"))]) == 0
    assert "without native bf16" not in capsys.readouterr().out


def test_a_bare_hub_dataset_id_is_named_at_validation_and_stops_the_run_before_weights_load(
        tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-cache"))
    path = _axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None,
                         datasets=[{"path": "tatsu-lab/alpaca", "type": "alpaca"}])
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tatsu-lab/alpaca is on the Hugging Face Hub" in out and "data file not found" not in out
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "could not load hub data set 'tatsu-lab/alpaca'" in err
    assert not (tmp_path / "run" / "base").exists() or not any((tmp_path / "run" / "base").iterdir())


def test_lora_model_dir_trains_on_from_an_existing_adapter(tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.training import attach_lora, load_for_training

    # An adapter saved by PEFT elsewhere, with non-zero B and its own rank.
    start = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    for name, parameter in start.named_parameters():
        if "lora_B" in name:
            torch.nn.init.constant_(parameter, 0.25)
    start.save_pretrained(tmp_path / "start")
    config = _parse(_axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None,
                                  lora_model_dir=str(tmp_path / "start"), lora_modules_to_save=None))
    model, _ = load_for_training(config, frozen=True)
    peft_model = attach_lora(model, config)
    b = [p for name, p in peft_model.named_parameters() if "lora_B" in name]
    assert b and all(p.requires_grad for p in b) and all(torch.all(p == 0.25) for p in b)
    assert peft_model.peft_config["default"].r == 2  # the adapter's own shape, as saved


def test_chat_template_dataset_keys_read_sharegpt_style_turns(tiny_model_dir, tmp_path, capsys):
    from harness.resolve.run_data import prepare_data

    records = [{"conversations": [{"from": "human", "value": f"Where is hydrant {i}?"},
                                  {"from": "gpt", "value": f"Hydrant {i} is at the north gate."}]} for i in range(10)]
    data = write_jsonl(tmp_path / "turns.jsonl", records)
    spec = {"path": str(data), "type": "chat_template", "field_messages": "conversations",
            "message_field_role": "from", "message_field_content": "value",
            "roles": {"user": ["human"], "assistant": ["gpt"]}, "roles_to_train": ["assistant"]}
    config = _parse(_axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None, datasets=[spec],
                                  val_set_size=0.0))
    run_data = prepare_data(config, load_harness())
    first = run_data.train[0].messages
    assert [m.role for m in first] == ["user", "assistant"] and first[1].content.startswith("Hydrant")
    # Keys the formatter does not take, and roles it cannot train, are refused before any data is read.
    for bad, message in ((dict(spec, type="alpaca"), "only type: chat_template reads this key"),
                         (dict(spec, roles_to_train=["user", "assistant"]), "train_on: all")):
        assert main(["validate", str(_axolotl_lora(tmp_path, datasets=[bad]))]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("changes", [{"optimizer": "adamw_bnb_8bit"}, {"load_in_8bit": True},
                                     {"adapter": "qlora", "load_in_4bit": True},
                                     {"deepspeed": "zero3.json"}])
def test_gpu_only_settings_validate_anywhere_and_stop_a_cpu_run_at_its_start(tiny_model_dir, tmp_path, capsys,
                                                                             changes):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    path = _axolotl_lora(tmp_path, base_model=str(tiny_model_dir), model_type=None, **changes)
    assert main(["validate", str(path)]) == 0
    assert "a run on this machine would stop at its start" in capsys.readouterr().out
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert ("needs a CUDA GPU" in err or "none is here" in err) and "instead:" in err
    assert not (tmp_path / "run" / "base").exists()  # stopped before any data or weights loaded


def test_axolotl_hub_dataset_keys_name_the_configuration_and_split():
    from harness.config import DatasetSpec
    from harness.data.sources import hub_path_of, parse_hub_path

    spec = DatasetSpec(path="openai/gsm8k", name="main", split="test", type="question_response")
    ref = parse_hub_path(hub_path_of(spec))
    assert (ref.name, ref.config, ref.split) == ("openai/gsm8k", "main", "test")
    assert parse_hub_path(hub_path_of(DatasetSpec(path="tatsu-lab/alpaca"))).split == "train"
    assert hub_path_of(DatasetSpec(path="hf://datasets/a/b", split="validation")).endswith("?split=validation")
    assert hub_path_of(DatasetSpec(path="data/local.jsonl")) is None


def test_ds_type_json_is_noted_and_other_formats_refused(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", chat_records(12))
    assert main(["validate", str(_axolotl_lora(tmp_path, datasets=[{"path": str(data), "ds_type": "json"}]))]) == 0
    assert "datasets[0].ds_type: ignored" in capsys.readouterr().out
    assert main(["validate", str(_axolotl_lora(tmp_path, datasets=[{"path": str(data), "ds_type": "parquet"}]))]) == 2
    assert "convert the file to JSONL" in capsys.readouterr().err


def test_a_hub_model_offline_is_named_at_validation_and_stops_the_run_before_any_weights(tmp_path, monkeypatch,
                                                                                         capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # nothing cached
    path = _axolotl_lora(tmp_path, base_model="NousResearch/Meta-Llama-3-8B", model_type=None)
    assert main(["validate", str(path)]) == 0
    assert "NousResearch/Meta-Llama-3-8B is on the Hugging Face Hub" in capsys.readouterr().out
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "is on the Hugging Face Hub (HF_HUB_OFFLINE is set) and not in the local cache" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "base").exists()


def test_set_changes_a_key_and_strict_limits_it_to_keys_the_file_sets(tmp_path, capsys):
    """Axolotl's strict: with true, a command-line setting may change only a key the file has."""
    from harness.resolve.config_file import load_config, parse_overrides

    assert parse_overrides(["learning_rate=1e-4", "forgetting.threshold=0.03", "lora_target_modules=[q_proj]"]) == {
        "learning_rate": 1e-4, "forgetting": {"threshold": 0.03}, "lora_target_modules": ["q_proj"]}
    loose = _axolotl_lora(tmp_path)
    config = load_config(loose, load_harness(), parse_overrides(["lora_r=4", "max_steps=3"]))
    assert config.lora_r == 4 and config.max_steps == 3
    strict = _axolotl_lora(tmp_path, strict=True)
    assert main(["validate", str(strict), "--set", "lora_r=4"]) == 0
    capsys.readouterr()
    assert main(["validate", str(strict), "--set", "max_steps=3", "--set", "forgetting.threshold=0.03"]) == 2
    err = capsys.readouterr().err
    assert "- max_steps: --set names a key the file does not set" in err
    assert "- forgetting.threshold: --set names" in err
    assert main(["validate", str(loose), "--set", "lora_r"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_data_files_pick_files_of_a_hub_data_set_as_datasets_reads_them(tmp_path):
    """Axolotl's data_files reaches datasets.load_dataset (here over a folder laid out as a hub repo)."""
    import datasets

    from harness.config import DatasetSpec
    from harness.data.sources import hub_path_of, parse_hub_path, read_hub_records

    repo = tmp_path / "org" / "fire-procedures"
    write_jsonl(repo / "drills.jsonl", chat_records(3, topic="drills"))
    write_jsonl(repo / "calls.jsonl", chat_records(5, topic="calls"))
    ref = parse_hub_path(hub_path_of(DatasetSpec(path="org/fire-procedures", data_files=["calls.jsonl"])))
    assert ref.name == "org/fire-procedures" and ref.data_files == ("calls.jsonl",) and ref.split == "train"
    records = read_hub_records(ref, load=lambda name, *args, **kwargs: datasets.load_dataset(
        "json", *args[1:], data_files=[str(tmp_path / name / f) for f in kwargs.pop("data_files")], **kwargs))
    assert len(records) == 5 and all("calls" in r.value["messages"][0]["content"] for r in records)
    assert "data_files=a.json,b.json" in hub_path_of(DatasetSpec(path="hf://datasets/o/n", data_files=["a.json",
                                                                                                        "b.json"]))


def test_input_output_segments_train_only_the_labelled_text_as_written(tiny_model_dir, tmp_path):
    """Axolotl's template-free format: no chat template, no added token, loss on label: true segments."""
    from transformers import AutoTokenizer

    from harness import FormatError
    from harness.data.examples import load_examples
    from harness.data.tokenize import IGNORE_INDEX, encode

    records = [{"segments": [{"label": False, "text": "REPORT FORM 7\nIncident: kitchen fire\nAction:"},
                             {"label": True, "text": " evacuate, then cut the gas supply."}]}]
    loaded = load_examples(write_jsonl(tmp_path / "forms.jsonl", records), load_harness(), type="input_output")
    (example,) = loaded.examples
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = encode(example, tokenizer, max_length=256)
    assert encoded.input_ids == tokenizer(example.text, add_special_tokens=False)["input_ids"]  # nothing added
    trained = tokenizer.decode([t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX])
    assert trained.strip() == "evacuate, then cut the gas supply."
    formatter = load_harness().formatter("input_output")(load_harness().formatter("input_output").Options())
    assert formatter.dump(example) == records[0]
    with pytest.raises(FormatError, match="nothing to train on"):
        formatter.parse({"segments": [{"label": False, "text": "only a prompt"}]})


def test_axolotl_fsdp_settings_become_transformers_fsdp_arguments(tmp_path, monkeypatch):
    """Axolotl's FSDP1-style words and fsdp_-prefixed keys (as in its Qwen2 QLoRA + FSDP example)
    reach TrainingArguments as FSDP2 settings on GPUs; on the CPU harness shards itself (test_sharding.py),
    so they stay away from TrainingArguments there."""
    from harness.training.arguments import plan_steps, training_arguments

    monkeypatch.setenv("FSDP_CPU_RAM_EFFICIENT_LOADING", "false")  # TrainingArguments sets it; restored after
    config = _parse(_axolotl_lora(tmp_path, fsdp=["full_shard", "auto_wrap"], fsdp_config={
        "fsdp_offload_params": True, "fsdp_transformer_layer_cls_to_wrap": "LlamaDecoderLayer",
        "fsdp_state_dict_type": "FULL_STATE_DICT", "fsdp_sharding_strategy": "SHARD_GRAD_OP"}))
    args = training_arguments(config, plan_steps(config, 64), tmp_path / "ckpt", has_validation=False, device="cuda")
    assert args.fsdp_config["version"] == 2 and args.fsdp_config["cpu_offload"] is True
    assert args.fsdp_config["transformer_layer_cls_to_wrap"] == ["LlamaDecoderLayer"]
    assert args.fsdp_config["reshard_after_forward"] is False  # SHARD_GRAD_OP, said after full_shard, wins
    assert args.fsdp_config["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert not training_arguments(config, plan_steps(config, 64), tmp_path / "c1", has_validation=False,
                                  device="cpu").fsdp
    plain = _parse(_axolotl_lora(tmp_path))
    assert not training_arguments(plain, plan_steps(plain, 64), tmp_path / "c2", has_validation=False).fsdp
