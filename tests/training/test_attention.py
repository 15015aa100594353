"""Training's float32 attention on a CPU: the same SDPA, outside autocast, and only while training."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from harness.training.attention import FLOAT32_SDPA, float32_attention, float32_sdpa, model_attention
from train_helpers import settings


def _heads(seed: int, batch=2, heads=4, kv_heads=2, length=12, dim=8):
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, heads, length, dim, generator=generator)
    key = torch.randn(batch, kv_heads, length, dim, generator=generator)
    value = torch.randn(batch, kv_heads, length, dim, generator=generator)
    padding = torch.ones(batch, length, dtype=torch.bool)
    padding[0, -3:] = False
    mask = torch.tril(torch.ones(length, length, dtype=torch.bool))[None, None] & padding[:, None, None, :]
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads, is_causal=True, training=True)
    return module, query, key, value, mask


def test_it_is_transformers_sdpa_on_float32_copies_even_under_autocast():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    module, query, key, value, mask = _heads(0)
    q, k, v = (t.bfloat16() for t in (query, key, value))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = float32_sdpa(module, q, k, v, mask, scaling=0.3)
        in_bf16, _ = sdpa_attention_forward(module, q, k, v, mask, scaling=0.3)  # what autocast gives SDPA
    expected, _ = sdpa_attention_forward(module, q.float(), k.float(), v.float(), mask, scaling=0.3)
    assert output.dtype == torch.bfloat16 and in_bf16.dtype == torch.bfloat16
    assert torch.equal(output, expected.bfloat16())
    # ... and closer to the exact attention than the bf16 kernel autocast picks
    exact, _ = sdpa_attention_forward(module, q.double(), k.double(), v.double(), mask, scaling=0.3)
    assert (output.double() - exact).abs().mean() < (in_bf16.double() - exact).abs().mean()


def test_gradients_reach_bf16_inputs_in_their_dtype():
    module, query, key, value, mask = _heads(1)
    q, k, v = (t.bfloat16().requires_grad_() for t in (query, key, value))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = float32_sdpa(module, q, k, v, mask, scaling=0.35)
    output.float().square().sum().backward()
    assert all(t.grad is not None and t.grad.dtype == torch.bfloat16 and t.grad.abs().sum() > 0 for t in (q, k, v))


def test_the_switch_is_temporary_and_evaluation_sees_the_model_s_own_attention(tiny_model_dir):
    from harness.training import load_for_training

    model, _ = load_for_training(settings(tiny_model_dir, bf16=False), frozen=True)
    assert model.config._attn_implementation == "sdpa" and model.dtype == torch.float32
    ids = torch.randint(3, model.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain = model(input_ids=ids).logits
    with float32_attention(model, enabled=False) as switched:
        assert switched == 0 and model.config._attn_implementation == "sdpa"
    with float32_attention(model, enabled=True) as switched:
        assert switched == 1
        assert all(layer.self_attn.config._attn_implementation == FLOAT32_SDPA for layer in model.model.layers)
        with model_attention(model):
            assert model.config._attn_implementation == "sdpa"
        assert model.config._attn_implementation == FLOAT32_SDPA
        with torch.no_grad():
            switched_logits = model(input_ids=ids).logits
    assert model.config._attn_implementation == "sdpa"
    # an fp32 model's attention is float32 already: the stand-in computes the very same numbers
    assert torch.equal(switched_logits, plain)


def test_bf16_lora_training_on_a_cpu_trains_with_it_and_ships_sdpa(tiny_model_dir, tmp_path, monkeypatch):
    from transformers import AutoConfig
    from transformers.integrations import sdpa_attention

    from harness import TrainRequest
    from harness_plugins.trainers.lora import LoraTrainer
    from train_helpers import examples

    # A spy on the SDPA function the stand-in calls (the model's own "sdpa" is bound elsewhere).
    trained_in, evaluated_with = [], []
    real_sdpa = sdpa_attention.sdpa_attention_forward

    def spy(module, query, *args, **kwargs):
        trained_in.append((query.dtype, torch.is_autocast_enabled("cpu")))
        return real_sdpa(module, query, *args, **kwargs)

    monkeypatch.setattr(sdpa_attention, "sdpa_attention_forward", spy)

    def evaluate(model, step):
        evaluated_with.append(model.config._attn_implementation)
        return {}

    config = settings(tiny_model_dir, bf16=True, max_steps=2, eval_steps=1)
    record = LoraTrainer().train(TrainRequest(config=config, train=examples(8), validation=examples(4),
                                              output_dir=tmp_path / "run", on_evaluate=evaluate))
    assert record.steps == 2
    layers = AutoConfig.from_pretrained(tiny_model_dir).num_hidden_layers
    # every layer of every training forward went through it: float32, autocast off
    assert len(trained_in) >= record.steps * layers and set(trained_in) == {(torch.float32, False)}
    assert evaluated_with == ["sdpa", "sdpa"]  # the evaluation hook scores the attention that ships
