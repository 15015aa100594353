"""CheapDropout: nn.Dropout's distribution with cheaper masks, swapped into LoRA layers on a CPU."""

from __future__ import annotations

import pytest
import torch

from harness.training.dropout import CheapDropout, splitmix64, use_cheap_lora_dropout
from train_helpers import settings


def test_drops_at_the_rate_asked_and_keeps_the_expectation():
    torch.manual_seed(0)
    dropout = CheapDropout(0.05).train()
    x = torch.ones(1000, 1000)
    y = dropout(x)
    dropped = float((y == 0).float().mean())
    assert dropout.drop_probability == pytest.approx(0.05, abs=1 / 65536)
    # 1e6 Bernoulli draws: the standard error of the rate is 2.2e-4
    assert dropped == pytest.approx(0.05, abs=1e-3)
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - dropout.drop_probability)))
    assert float(y.mean()) == pytest.approx(1.0, abs=3e-3)


def test_masks_differ_per_call_repeat_per_seed_and_are_unbiased_by_position():
    dropout = CheapDropout(0.5).train()
    x = torch.ones(4000, 64)
    torch.manual_seed(1)
    first, second = dropout(x), dropout(x)
    torch.manual_seed(1)
    assert torch.equal(dropout(x), first)  # torch's seeded generator drives it
    assert not torch.equal(first, second)
    # every column position (each of the 4 int16 lanes of a 64-bit draw) drops about half the time
    rates = (first == 0).float().mean(dim=0)
    assert float(rates.min()) > 0.45 and float(rates.max()) < 0.55


def splitmix64_reference(seed: int, count: int) -> list[int]:
    """SplitMix64 as published, one output at a time in Python's unbounded integers (as signed int64)."""
    mask, state, out = (1 << 64) - 1, seed & ((1 << 64) - 1), []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append(z - (1 << 64) if z >> 63 else z)
    return out


def test_the_generator_is_splitmix64_exactly():
    # Vectorised int64 arithmetic (wrapping products, sign bits cleared after each shift) gives
    # the published sequence: its first output from seed 0 is 0xE220A8397B1DCDAF.
    assert splitmix64(0, 1).item() == 0xE220A8397B1DCDAF - (1 << 64)
    for seed in (0, 42, -1, (1 << 63) - 1, -(1 << 63)):
        assert splitmix64(seed, 500).tolist() == splitmix64_reference(seed, 500)


def test_neighbouring_elements_and_successive_masks_are_independent():
    # Lanes of one 64-bit word, adjacent words, and two calls in a row: both dropped at p**2.
    p = 0.2
    dropout = CheapDropout(p).train()
    torch.manual_seed(3)
    first = dropout(torch.ones(2000, 512)) == 0
    second = dropout(torch.ones(2000, 512)) == 0
    flat = first.reshape(-1)
    for label, a, b in (("same word", flat[0::4], flat[1::4]), ("next word", flat[0::4][:-1], flat[4::4]),
                        ("next call", first, second)):
        both = float((a & b).float().mean())
        assert both == pytest.approx(p * p, abs=2e-3), label  # sd of the estimate: about 3e-4


def test_gradient_is_the_mask_and_eval_is_the_identity():
    torch.manual_seed(2)
    dropout = CheapDropout(0.3).train()
    x = torch.randn(50, 40, requires_grad=True)
    y = dropout(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y.detach() != 0).float() / (1 - dropout.drop_probability))
    dropout.eval()
    assert dropout(x) is x
    assert CheapDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="dropout probability"):
        CheapDropout(1.0)


def test_lora_on_cpu_uses_it_and_saves_the_same_adapter_format(tiny_model_dir, tmp_path):
    from harness.training import attach_lora, load_for_training

    config = settings(tiny_model_dir, lora_dropout=0.1)
    model, _ = load_for_training(config, frozen=True)
    model = attach_lora(model, config)
    swapped = [m for m in model.modules() if isinstance(m, CheapDropout)]
    assert swapped and all(m.p == 0.1 for m in swapped)
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    assert use_cheap_lora_dropout(model) == 0  # nothing left to swap
    model.save_pretrained(tmp_path / "adapter")
    saved = (tmp_path / "adapter" / "adapter_config.json").read_text()
    assert '"lora_dropout": 0.1' in saved


def _lora_in_bf16(tiny_model_dir, dropout: float):
    """The tiny model as ``harness train`` builds it under bf16: bf16 base, fp32 adapters, CheapDropout."""
    from harness.training import attach_lora, load_for_training

    config = settings(tiny_model_dir, lora_dropout=dropout, bf16=True)
    model, _ = load_for_training(config, frozen=True)
    model = attach_lora(model, config)
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # zero at initialisation: give the adapters something to contribute
            parameter.data.normal_(0, 0.05)
    return model.train()


def test_under_autocast_adapter_inputs_skip_the_fp32_copy_with_bit_identical_training(tiny_model_dir):
    """PEFT copies each adapter's bf16 input to fp32 and autocast copies it back; without both copies
    the loss and every gradient are the same bits (dropout included: its scale is applied in fp32)."""
    from harness.training.modeling import adapter_input_casting

    model = _lora_in_bf16(tiny_model_dir, dropout=0.2)
    assert next(p for n, p in model.named_parameters() if "lora_A" in n).dtype == torch.float32
    assert model.get_input_embeddings().weight.dtype == torch.bfloat16
    ids = torch.randint(3, model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))

    def step(cast: bool):
        model.zero_grad()
        torch.manual_seed(7)  # the same dropout masks on both paths
        with adapter_input_casting(model, enabled=cast), torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    loss_cast, grads_cast = step(True)
    loss_direct, grads_direct = step(False)
    assert torch.equal(loss_cast, loss_direct)
    assert grads_cast.keys() == grads_direct.keys() and grads_cast
    for name, grad in grads_cast.items():
        assert torch.equal(grad, grads_direct[name]), name
    # the flags are put back: outside autocast the cast is what lets bf16 inputs meet fp32 adapters
    assert all(m.cast_input_dtype_enabled for m in model.modules() if hasattr(m, "cast_input_dtype_enabled"))
    with torch.no_grad():
        model(input_ids=ids)


def test_an_evaluation_callback_during_bf16_training_runs_the_model_outside_autocast(tiny_model_dir, tmp_path):
    """Training runs with the up-cast off; the loop's evaluation hook scores the model without autocast,
    so the cast must be back on while it runs."""
    from harness import TrainRequest
    from harness_plugins.trainers.lora import LoraTrainer
    from train_helpers import examples

    seen = []

    def evaluate(model, step):
        # The decoder alone, as shared-prefix scoring runs it: not under the autocast that
        # accelerate wraps around the whole model's forward during training.
        decoder = model.get_base_model().get_decoder()
        states = decoder(input_ids=torch.tensor([[5, 6, 7, 8]])).last_hidden_state
        seen.append(float(states.float().abs().mean()))
        return {"probe": seen[-1]}

    config = settings(tiny_model_dir, lora_dropout=0.1, bf16=True, max_steps=4, eval_steps=2)
    record = LoraTrainer().train(TrainRequest(config=config, train=examples(16), validation=examples(4),
                                              output_dir=tmp_path / "run", on_evaluate=evaluate))
    assert len(seen) == 2 and all(v > 0 for v in seen)
    evals = [line for line in record.metrics_file.read_text().splitlines() if '"probe"' in line]
    assert len(evals) == 2
