"""Each trainer plugin trains the tiny model; EWC's penalty behaves as EWC should."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import examples, settings, train_losses

from harness import Example, Message, TrainRequest, UsageError


def _request(tmp_path, model_dir, name="run", general=(), **overrides):
    data = examples(16)
    return TrainRequest(config=settings(model_dir, **overrides), train=data, validation=data[:4],
                        output_dir=tmp_path / name, general=list(general))


def _mean(values):
    return sum(values) / len(values)


@pytest.mark.slow
def test_lora_trains_and_writes_a_peft_adapter(tmp_path, tiny_model_dir, harness_app):
    record = harness_app.trainer("lora")().train(_request(tmp_path, tiny_model_dir))
    losses = train_losses(record.metrics_file)
    assert len(losses) == record.steps == 12
    assert _mean(losses[-3:]) < _mean(losses[:3]) - 0.3
    assert record.is_adapter and (record.weights_dir / "adapter_config.json").is_file()
    assert (record.weights_dir / "adapter_model.safetensors").is_file()
    assert record.val_loss is not None and record.tokens > 0
    rows = [json.loads(line) for line in record.metrics_file.read_text().splitlines()]
    train_rows = [r for r in rows if r["type"] == "train"]
    for key in ("lr", "grad_norm", "tokens_per_s", "padding_ratio"):
        assert all(r[key] is not None for r in train_rows), key
    assert any(r["type"] == "eval" and "val_loss" in r for r in rows)


@pytest.mark.slow
def test_full_trains_and_writes_a_model_folder(tmp_path, tiny_model_dir, harness_app):
    request = _request(tmp_path, tiny_model_dir, learning_rate=2e-3, max_steps=10)
    record = harness_app.trainer("full")().train(request)
    losses = train_losses(record.metrics_file)
    assert _mean(losses[-3:]) < _mean(losses[:3]) - 0.3
    assert not record.is_adapter and (record.weights_dir / "config.json").is_file()
    assert (record.weights_dir / "model.safetensors").is_file()


def _lora_drift(adapter_dir, scale):
    """Σ‖B·A·scale‖² over the adapted weights: how far LoRA moved the effective weights."""
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    total = 0.0
    for name, a in tensors.items():
        if "lora_A" in name:
            b = tensors[name.replace("lora_A", "lora_B")]
            total += float(((b.float() @ a.float()) * scale).pow(2).sum())
    return total


@pytest.mark.slow
def test_ewc_penalty_starts_at_zero_grows_and_limits_drift(tmp_path, tiny_model_dir, harness_app):
    ewc = harness_app.trainer("ewc")
    general = examples(8, topic="cooking", seed=3)
    drift, penalties = {}, {}
    for strength in (0.0, 50.0):
        trainer = ewc(ewc.Options(ewc_lambda=strength, fisher_samples=8))
        record = trainer.train(_request(tmp_path, tiny_model_dir, f"ewc-{strength}", general=general, max_steps=10))
        rows = [json.loads(line) for line in record.metrics_file.read_text().splitlines() if '"train"' in line]
        penalties[strength] = [r["penalty"] for r in rows]
        drift[strength] = _lora_drift(record.weights_dir, 16 / 8)
    strong = penalties[50.0]
    assert strong[0] == 0.0  # B starts at zero: no change, no penalty
    assert all(p > 0 for p in strong[1:])
    assert all(p == 0.0 for p in penalties[0.0])
    assert drift[50.0] < 0.7 * drift[0.0], drift


def test_ewc_without_general_data_says_what_to_add(tmp_path, tiny_model_dir, harness_app):
    with pytest.raises(UsageError, match="general_data"):
        harness_app.trainer("ewc")().train(_request(tmp_path, tiny_model_dir))


def test_qlora_without_cuda_refuses_before_loading(harness_app, tiny_model_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(UsageError, match="CUDA") as error:
        harness_app.trainer("qlora")().train(_request(tmp_path, tiny_model_dir))
    assert "adapter: lora" in str(error.value)


def test_lora_penalty_grows_with_the_change_of_the_effective_weights(tiny_model_dir):
    from harness.training import attach_lora, load_for_training
    from harness.training.ewc import LoraDriftPenalty, adapted_weight_names

    config = settings(tiny_model_dir)
    model, _ = load_for_training(config, frozen=True)
    names = adapted_weight_names(model, list(config.lora_target_modules))
    fisher = {n: torch.rand_like(dict(model.named_parameters())[n], dtype=torch.float32) for n in names}
    model = attach_lora(model, config)
    penalty = LoraDriftPenalty(model, fisher, strength=2.0)
    assert float(penalty(model)) == 0.0
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    values = []
    for size in (0.01, 0.02, 0.04):
        with torch.no_grad():
            for p in lora_b:
                p.fill_(size)
        values.append(float(penalty(model)))
    assert 0 < values[0] < values[1] < values[2]
    assert values[1] == pytest.approx(4 * values[0], rel=1e-3)  # quadratic in ΔW


def test_ewc_refuses_general_data_without_answers(tiny_model_dir):
    """Question-only prompts would give an all-zero Fisher, i.e. an EWC that silently does nothing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness import UsageError
    from harness.training.fisher import estimate_fisher

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    questions = [Example(messages=(Message("user", f"Question {i}?"),)) for i in range(3)]
    names = [n for n, _ in model.named_parameters()][:2]
    with pytest.raises(UsageError, match="none of the 3 general examples has an answer"):
        estimate_fisher(model, tokenizer, questions, names, max_length=64)
