"""Under autocast, plain LoRA layers add their output inside the product: same training, PEFT's forward elsewhere."""

from __future__ import annotations

import torch

from harness.training.lora_sum import _summed_forward, summed_in_matmul
from train_helpers import settings


def _lora(tiny_model_dir, **overrides):
    from harness.training import attach_lora, load_for_training

    config = settings(tiny_model_dir, lora_dropout=0.2, bf16=True)
    model, _ = load_for_training(config, frozen=True)
    if overrides:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                 **overrides), autocast_adapter_dtype=True)
    else:
        model = attach_lora(model, config)
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # zero at initialisation: give the adapters something to contribute
            parameter.data.normal_(0, 0.05)
    return model.train()


def _step(model, ids, summed: bool, autocast: bool = True):
    model.zero_grad()
    torch.manual_seed(7)  # the same dropout masks on both paths
    with summed_in_matmul(model, enabled=summed) as layers, torch.autocast("cpu", dtype=torch.bfloat16,
                                                                           enabled=autocast):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return layers, loss.detach(), grads


def _ids(model):
    return torch.randint(3, model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))


def test_same_loss_and_gradients_as_peft_up_to_bf16_rounding(tiny_model_dir):
    model = _lora(tiny_model_dir)
    ids = _ids(model)
    _, loss_peft, grads_peft = _step(model, ids, summed=False)
    layers, loss_summed, grads_summed = _step(model, ids, summed=True)
    assert layers == 2 * 7  # every adapted projection of the tiny model's 2 layers
    assert not torch.equal(loss_peft, loss_summed)  # it did run: rounded in another order
    assert torch.allclose(loss_peft, loss_summed, rtol=2e-3)
    for name, grad in grads_peft.items():
        other = grads_summed[name]
        cosine = torch.nn.functional.cosine_similarity(grad.flatten().double(), other.flatten().double(), dim=0)
        assert cosine > 0.999 and torch.allclose(grad.norm(), other.norm(), rtol=2e-2), name
    # switched back: nothing of it is left on the layers
    assert not any("forward" in vars(m) for m in model.modules())


def test_outside_autocast_and_for_other_lora_kinds_it_is_peft_s_forward_bit_for_bit(tiny_model_dir):
    model = _lora(tiny_model_dir)
    model.float()  # fp32 base and adapters: no autocast needed
    ids = _ids(model)
    _, loss_peft, grads_peft = _step(model, ids, summed=False, autocast=False)
    layers, loss_summed, grads_summed = _step(model, ids, summed=True, autocast=False)
    assert layers and torch.equal(loss_peft, loss_summed)
    assert all(torch.equal(g, grads_summed[n]) for n, g in grads_peft.items())
    for kind in ({"use_dora": True}, {"lora_bias": True}):
        model = _lora(tiny_model_dir, **kind)
        ids = _ids(model)
        _, loss_peft, _ = _step(model, ids, summed=False)
        layers, loss_summed, _ = _step(model, ids, summed=True)
        assert torch.equal(loss_peft, loss_summed), kind


def test_bf16_lora_training_on_a_cpu_uses_it(tiny_model_dir, tmp_path):
    from harness.api import TrainRequest
    from harness_plugins.trainers.lora import LoraTrainer
    from train_helpers import examples

    summed_layers = []

    def evaluate(model, step):
        summed_layers.append(sum(getattr(vars(m).get("forward"), "__func__", None) is _summed_forward
                                 for m in model.modules()))
        return {}

    config = settings(tiny_model_dir, bf16=True, max_steps=2, eval_steps=1)
    LoraTrainer().train(TrainRequest(settings=config, train=examples(8), validation=examples(4),
                                     output_dir=tmp_path / "run", on_evaluate=evaluate))
    assert summed_layers == [14, 14]
