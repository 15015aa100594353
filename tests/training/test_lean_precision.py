"""bf16 master weights (master_weights: bfloat16): the update is kept exact in expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.config import RunConfig
from harness.testing import check_trainer
from harness.training.lean_precision import Bf16AdamW, stochastic_round_to_bf16


def test_stochastic_rounding_is_unbiased_where_rounding_to_nearest_is_not():
    generator = torch.Generator().manual_seed(0)
    # 1 + 1/1024 lies an eighth of the way from bf16's 1.0 to its next value, 1.0078125.
    value = torch.full((200_000,), 1 + 1 / 1024)
    for sign in (1, -1):
        rounded = stochastic_round_to_bf16(sign * value, generator)
        assert set(rounded.float().unique().tolist()) == {sign * 1.0, sign * 1.0078125}
        assert rounded.double().mean().item() == pytest.approx(sign * (1 + 1 / 1024), abs=2e-5)
    assert (value.to(torch.bfloat16) == 1.0).all()  # to nearest: the eighth is lost every time


def test_many_small_updates_add_up_as_in_float32():
    generator = torch.Generator().manual_seed(0)
    nearest = torch.ones(10_000, dtype=torch.bfloat16)
    stochastic = torch.ones(10_000, dtype=torch.bfloat16)
    for _ in range(1000):  # 1000 updates of 1e-4: float32 ends at 1.1
        nearest = (nearest.float() + 1e-4).to(torch.bfloat16)
        stochastic = stochastic_round_to_bf16(stochastic.float() + 1e-4, generator)
    assert (nearest == 1.0).all()
    assert stochastic.double().mean().item() == pytest.approx(1.1, abs=0.002)


def test_over_float32_parameters_it_is_torch_adamw():
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(8, 4), torch.nn.Linear(8, 4)
    theirs.load_state_dict(ours.state_dict())
    groups = lambda model: [{"params": [model.weight], "weight_decay": 0.1},  # noqa: E731
                            {"params": [model.bias], "weight_decay": 0.0}]
    a = Bf16AdamW(groups(ours), lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    b = torch.optim.AdamW(groups(theirs), lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    inputs = torch.randn(16, 8)
    for _ in range(5):
        for model, optimizer in ((ours, a), (theirs, b)):
            optimizer.zero_grad()
            model(inputs).pow(2).mean().backward()
            optimizer.step()
    assert torch.allclose(ours.weight, theirs.weight, atol=1e-6) and torch.allclose(ours.bias, theirs.bias, atol=1e-6)


@pytest.mark.slow
def test_bf16_weights_track_float32_training_where_plain_bf16_adamw_stalls():
    """Regression at a fine-tuning learning rate: updates far below bf16's resolution."""
    torch.manual_seed(0)
    inputs, weights = torch.randn(256, 64), torch.randn(64, 1)
    targets = inputs @ weights

    def train(dtype, optimizer_cls):
        model = torch.nn.Linear(64, 1, bias=False)
        torch.manual_seed(1)
        torch.nn.init.normal_(model.weight, std=1.0)
        model = model.to(dtype)
        optimizer = optimizer_cls(model.parameters(), lr=2e-4, weight_decay=0.0)
        for _ in range(300):
            optimizer.zero_grad()
            (model(inputs.to(dtype)).float() - targets).pow(2).mean().backward()
            optimizer.step()
        return model.weight.detach().float()

    exact = train(torch.float32, torch.optim.AdamW)
    start = train(torch.float32, lambda *a, **k: torch.optim.SGD(*a, lr=0.0))  # where both began
    ours = train(torch.bfloat16, Bf16AdamW)
    plain = train(torch.bfloat16, torch.optim.AdamW)
    path = exact - start

    def progress(weights):  # how far along float32's path, 1.0 being all the way
        return float(((weights - start) * path).sum() / path.pow(2).sum())

    assert progress(ours) == pytest.approx(1.0, abs=0.1)  # measured 1.005
    assert progress(plain) < 0.1  # measured 0.03: torch's AdamW on bf16 weights rounds the updates away


def test_its_moments_are_float32_over_bf16_weights():
    layer = torch.nn.Linear(8, 8).to(torch.bfloat16)
    optimizer = Bf16AdamW(layer.parameters(), lr=1e-3)
    layer(torch.randn(2, 8, dtype=torch.bfloat16)).sum().backward()
    optimizer.step()
    state = optimizer.state[layer.weight]
    assert layer.weight.dtype == torch.bfloat16
    assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32


@pytest.mark.slow
def test_full_fine_tuning_with_bf16_master_weights(harness_app, tiny_model_dir, tmp_path):
    settings = dict(learning_rate=1e-3, max_steps=6, bf16=True)
    wide = check_trainer(harness_app.trainer("full"), tiny_model_dir, tmp_path / "fp32", **settings)
    lean = check_trainer(harness_app.trainer("full"), tiny_model_dir, tmp_path / "bf16", master_weights="bfloat16",
                         **settings)
    config = json.loads((Path(lean.weights_dir) / "config.json").read_text())
    assert config["dtype"] == "bfloat16"  # a 2-byte checkpoint, as trained

    def losses(record):
        rows = [json.loads(line) for line in Path(record.metrics_file).read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row]

    assert losses(lean)[-1] < losses(lean)[0]
    assert losses(lean)[-1] == pytest.approx(losses(wide)[-1], rel=0.05)


def test_its_settings_are_checked(tiny_model_dir):
    with pytest.raises(ValueError, match="master_weights: bfloat16 with optimizer: sgd.*allowed: adamw_torch"):
        RunConfig(base_model=str(tiny_model_dir), master_weights="bfloat16", optimizer="sgd")
    with pytest.raises(ValueError, match="needs bf16: true or auto, not fp16: true"):
        RunConfig(base_model=str(tiny_model_dir), master_weights="bfloat16", fp16=True, bf16=False)


def test_axolotls_bfloat16_key_means_bf16_master_weights(harness_app, tmp_path):
    from harness.resolve.config_file import parse_config

    config = parse_config({"base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "bfloat16": True,
                           "datasets": [{"path": "train.jsonl"}]}, harness_app, base_dir=tmp_path)
    assert config.master_weights == "bfloat16"
