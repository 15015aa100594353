"""A model trained anywhere gets the whole run folder: verdict, results, reports, gate.

The candidate here is a LoRA adapter made by plain PEFT (no harness code touches
it before judging), or a full model folder saved by transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.testing_tasks import write_local_tasks
from lm_eval_docs import mmlu_docs, wikitext_docs


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    return write_local_tasks({"mmlu_anatomy": mmlu_docs("anatomy", 40), "wikitext": wikitext_docs(6)},
                             tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def peft_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    """A LoRA adapter saved by PEFT itself, with non-zero B so it changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    folder = tmp_path_factory.mktemp("peft-adapter")
    model.save_pretrained(folder)
    return folder


def _flags(tasks: Path) -> list[str]:
    return ["--task", "mmlu_anatomy", "--task", "wikitext", "--include-path", str(tasks), "--first-look", "20",
            "--max-items", "40", "--dtype", "float32"]


@pytest.mark.slow
def test_compare_models_writes_a_run_folder_the_gate_and_reports_read(tiny_model_dir, peft_adapter, tasks, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "judged"
    code = main(["compare-models", "--base", str(tiny_model_dir), "--adapter", str(peft_adapter), *_flags(tasks),
                 "--run-dir", str(run_dir)])
    capsys.readouterr()
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert code == {"pass": 0, "fail": 1, "undecided": 3}[verdict["status"]]
    assert verdict["trainer"] == "external" and len(verdict["rounds"]) == 1
    assert verdict["rounds"][0]["weights"] == str(peft_adapter.resolve())
    for name in ("results.json", "report.html", "report.md", "rounds/round-1/breakdown.json"):
        assert (run_dir / name).is_file(), name

    # The gate and the report command read it as they read a run.
    assert main(["gate", str(run_dir)]) == code
    assert f"Candidate `{peft_adapter.resolve()}` (trained elsewhere)" in capsys.readouterr().out
    (run_dir / "report.html").unlink()
    assert main(["report", str(run_dir)]) == 0 and (run_dir / "report.html").is_file()

    # The same judgement as compare-models without a run folder: same items, same numbers.
    report = tmp_path / "plain.json"
    main(["compare-models", "--base", str(tiny_model_dir), "--adapter", str(peft_adapter), *_flags(tasks),
          "--json", str(report)])
    plain = {c["benchmark"]: c for c in json.loads(report.read_text())["forgetting"]}
    saved = verdict["rounds"][0]["forgetting"]
    for name, comparison in plain.items():
        assert saved[name]["n"] == comparison["n"] and saved[name]["status"] == comparison["status"]
        assert saved[name]["relative"] == pytest.approx(comparison["relative"], nan_ok=True)


@pytest.mark.slow
def test_a_run_config_with_external_weights_reads_no_data_and_judges_one_round(tiny_model_dir, tasks, tmp_path,
                                                                              monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.models.loading import load_model

    # A full model trained elsewhere: here the tiny model with its weights nudged, saved by transformers.
    model = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False)
    for parameter in model.model.parameters():
        parameter.data.mul_(0.9)
    model.model.save_pretrained(tmp_path / "candidate")
    model.tokenizer.save_pretrained(tmp_path / "candidate")
    config = tmp_path / "judge.yml"
    config.write_text(yaml.safe_dump({
        "base_model": str(tiny_model_dir), "trainer": {"name": "external", "weights": str(tmp_path / "candidate")},
        "benchmarks": {"suite": None, "general": [{"name": "lm_eval", "task": "wikitext", "include_path": str(tasks)}],
                       "first_look": 10, "max_items": 10},
    }))
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert code == {"pass": 0, "fail": 1, "undecided": 3}[verdict["status"]]
    assert len(verdict["rounds"]) == 1  # nothing to retrain with more general data
    decision = json.loads((tmp_path / "run" / "rounds" / "round-1" / "decision.json").read_text())
    assert decision["action"] == "stop"
    mix = json.loads((tmp_path / "run" / "rounds" / "round-1" / "mix.json").read_text())
    assert mix["mixer"] is None


def test_external_weights_that_do_not_exist_exit_2_before_loading(tiny_model_dir, tmp_path, capsys):
    code = main(["compare-models", "--base", str(tiny_model_dir), "--candidate", str(tmp_path / "missing"),
                 "--benchmark", "offline_arc_easy", "--run-dir", str(tmp_path / "run")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_smollm2_with_an_adapter_trained_by_plain_peft_gets_the_report_and_gate(tmp_path, monkeypatch, capsys):
    """The path of a team that trains elsewhere: PEFT + transformers' Trainer, then one harness command."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from harness.models.loading import local_folder, resolve_model
    from harness.testing import chat_records

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    folder = local_folder(resolve_model("smollm2-135m-instruct"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32),
                           LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in chat_records(16)]
    encoded = [tokenizer(t, truncation=True, max_length=96) for t in texts]
    rows = [{"input_ids": e["input_ids"], "labels": e["input_ids"]} for e in encoded]
    Trainer(model=model, train_dataset=rows,
            args=TrainingArguments(output_dir=str(tmp_path / "trainer"), per_device_train_batch_size=1, max_steps=6,
                                   learning_rate=1e-3, report_to="none", use_cpu=True, save_strategy="no",
                                   logging_strategy="no")).train()
    model.save_pretrained(tmp_path / "adapter")

    run_dir = tmp_path / "judged"
    code = main(["compare-models", "--base", "smollm2-135m-instruct", "--adapter", str(tmp_path / "adapter"),
                 "--benchmark", "offline_arc_easy", "--first-look", "50", "--max-items", "100", "--dtype", "float32",
                 "--run-dir", str(run_dir)])
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert code == {"pass": 0, "fail": 1, "undecided": 3}[verdict["status"]]
    comparison = verdict["rounds"][0]["forgetting"]["offline_arc_easy"]
    assert comparison["n"] in (50, 75, 100) and comparison["status"] in {"pass", "fail", "undecided"}
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    capsys.readouterr()
    assert main(["gate", str(run_dir)]) == code
    assert main(["report", str(run_dir)]) == 0
