"""Shared-prefix packing: one packed row per micro-batch, the same loss and gradients as the padded batch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from harness.data.tokenize import IGNORE_INDEX
from harness.models.masks import custom_mask_blocker
from harness.training.packing import (ATTENTION_SLOWDOWN, LayerCost, pack_shared_prefix, shared_prefix_length,
                                      trained_positions)
from train_helpers import examples, settings

FREE = LayerCost(per_token=1.0, per_pair=0.0)  # a cost under which any saved token pays


def _batch(rows: list[list[int]], trained_from: list[int], pad: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded ids, mask and labels; row i's labels are trained from position trained_from[i]."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
        labels[i, trained_from[i]:len(row)] = torch.tensor(row[trained_from[i]:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def test_the_prefix_stops_at_the_first_difference_the_first_trained_position_or_the_shortest_row():
    same = [5, 6, 7, 8]
    batch = _batch([same + [9, 10, 11], same + [12, 13]], trained_from=[5, 5])
    trained = trained_positions(batch["labels"])
    assert shared_prefix_length(batch["input_ids"], batch["attention_mask"], trained) == 4
    # a trained label at position 3 is predicted from position 2: the prefix stops there
    early = _batch([same + [9, 10], same + [12]], trained_from=[3, 5])
    assert shared_prefix_length(early["input_ids"], early["attention_mask"], trained_positions(early["labels"])) == 2
    # identical rows still leave each row one token of its own
    twins = _batch([same, same], trained_from=[3, 3])
    assert shared_prefix_length(twins["input_ids"], twins["attention_mask"], trained_positions(twins["labels"])) == 2


def test_the_packed_row_holds_the_prefix_once_and_each_row_s_own_tokens_in_place():
    batch = _batch([[5, 6, 7, 9, 10, 11], [5, 6, 7, 12, 13]], trained_from=[4, 4])
    packed = pack_shared_prefix(**batch, cost=FREE)
    assert packed.prefix_length == 3 and packed.rows == 2
    assert packed.input_ids.tolist() == [[5, 6, 7, 9, 10, 11, 12, 13]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 3, 4, 5, 3, 4]]
    # row 1's first token (index 6) sees the prefix and itself, none of row 0's own tokens
    assert packed.visible[6].tolist() == [True, True, True, False, False, False, True, False]
    assert packed.visible[4].tolist() == [True, True, True, True, True, False, False, False]
    # targets in the padded batch's order: row 0 predicts 10, 11 (from positions 3, 4); row 1 predicts 13
    assert packed.targets.tolist() == [10, 11, 13]
    assert packed.trained.tolist() == [[False, False, False, True, True, False, True, False]]
    additive = packed.attention_mask(torch.float32)
    assert additive.shape == (1, 1, 8, 8) and additive[0, 0, 6, 4] == torch.finfo(torch.float32).min
    assert additive[0, 0, 6, 2] == 0 and packed.attention_mask().dtype == torch.bool


def test_nothing_is_packed_where_it_would_not_pay_or_cannot_be_done():
    batch = _batch([[5, 6, 7, 9, 10, 11], [5, 6, 7, 12]], trained_from=[4, 3])
    assert pack_shared_prefix(**{k: v[:1] for k, v in batch.items()}, cost=FREE) is None  # one row
    unrelated = _batch([[5, 6, 7], [8, 6, 7]], trained_from=[1, 1])
    assert pack_shared_prefix(**unrelated, cost=FREE) is None  # no shared prefix
    everything = _batch([[5, 6, 7, 9], [5, 6, 7, 12]], trained_from=[1, 1])
    assert pack_shared_prefix(**everything, cost=FREE) is None  # train_on: all trains from the start
    left = {k: v.flip(1) for k, v in batch.items()}
    assert pack_shared_prefix(**left, cost=FREE) is None  # left padding
    # packing saves 3 of 12 tokens' projections, and attends 81 pairs where the padded batch attends 72
    halves = _batch([[5, 6, 7, 9, 10, 11], [5, 6, 7, 12, 13, 14]], trained_from=[4, 4])
    assert pack_shared_prefix(**halves, cost=LayerCost(per_token=1.0, per_pair=0.0)) is not None
    assert pack_shared_prefix(**halves, cost=LayerCost(per_token=1.0, per_pair=1.0)) is None


def test_the_cost_model_packs_the_example_data_s_micro_batches_on_smollm2_s_shape_but_not_long_unshared_rows():
    smollm2 = SimpleNamespace(hidden_size=576, num_attention_heads=9, num_key_value_heads=3, head_dim=64,
                              intermediate_size=1536)
    cost = LayerCost.of(smollm2)
    assert cost.per_token == 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536
    assert cost.per_pair == 2 * 9 * 64 * ATTENTION_SLOWDOWN
    # a micro-batch of the example data: 4 rows of up to 168 tokens sharing 83 -> 416 packed tokens (1.35x measured)
    assert cost.packed(416) < 0.8 * cost.padded(4, 168)
    # 8 such rows (the demo's micro-batch): 83 + 8 x 67 packed tokens
    assert cost.packed(83 + 8 * 67) < 0.8 * cost.padded(8, 160)
    # 4 rows of 512 sharing 200 tokens: fewer projections, but 2x the attended pairs
    assert cost.packed(200 + 4 * 312) > 0.9 * cost.padded(4, 512)
    # 4 rows of 2048 sharing 100 tokens: packing saves 300 tokens but multiplies attention
    assert cost.packed(100 + 4 * 1948) > cost.padded(4, 2048)


def test_only_masks_the_model_honours_are_used():
    def model(**config):
        return SimpleNamespace(config=SimpleNamespace(**config))

    allowed = {"sdpa", "eager"}
    assert custom_mask_blocker(model(_attn_implementation="sdpa"), allowed) is None
    assert "flash_attention_2" in custom_mask_blocker(model(_attn_implementation="flash_attention_2"), allowed)
    assert "sliding-window" in custom_mask_blocker(model(_attn_implementation="sdpa", sliding_window=4096), allowed)
    assert "non-global" in custom_mask_blocker(
        model(_attn_implementation="sdpa", layer_types=["full_attention", "sliding_attention"]), allowed)


def _loss_and_grads(model, batch, packed=None):
    """The engine's loss (sum over trained tokens / their count) and the adapters' gradients."""
    model.zero_grad(set_to_none=True)
    if packed is None:
        keep = trained_positions(batch["labels"])
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       logits_to_keep=keep).logits
        targets = batch["labels"][:, 1:][keep[:, :-1]]
    else:
        additive = torch.float32 if model.config._attn_implementation == "eager" else None
        logits = model(input_ids=packed.input_ids, position_ids=packed.position_ids,
                       attention_mask=packed.attention_mask(additive), logits_to_keep=packed.trained).logits
        targets = packed.targets
    loss = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum") / targets.numel()
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_loss_and_gradients_equal_the_padded_batch_s(tiny_model_dir, attention):
    from harness.training import attach_lora, load_for_training, tokenize_examples
    from harness.training.data import PaddingCollator

    run = settings(tiny_model_dir, bf16=False)
    model, tokenizer = load_for_training(run, frozen=True, attn_implementation=attention)
    model = attach_lora(model, run)
    model.train()
    rows = tokenize_examples(examples(4), tokenizer, max_length=128)
    batch = PaddingCollator(tokenizer.pad_token_id)([rows[i] for i in range(4)])
    packed = pack_shared_prefix(**batch, cost=FREE)
    assert packed is not None and packed.prefix_length > 10  # the template's default system prompt
    assert packed.tokens < batch["input_ids"].numel()
    padded_loss, padded_grads = _loss_and_grads(model, batch)
    packed_loss, packed_grads = _loss_and_grads(model, batch, packed)
    assert packed_loss == pytest.approx(padded_loss, rel=1e-5)
    assert padded_grads.keys() == packed_grads.keys() and padded_grads
    for name, grad in padded_grads.items():
        assert torch.allclose(packed_grads[name], grad, rtol=1e-4, atol=1e-6), name


@pytest.fixture(scope="module")
def wide_model_dir(tmp_path_factory):
    """The tiny Llama with a wider MLP: at the test data's ~50 tokens its projections outweigh
    attention, as a real model's do, so the engine's cost estimate packs clearly."""
    from harness.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("wide-tiny-llama"), intermediate_size=1024)


def _train(tiny_model_dir, out, **overrides):
    from harness import TrainRequest
    from harness_plugins.trainers.lora import LoraTrainer

    run = settings(tiny_model_dir, bf16=False, max_steps=4, **overrides)
    record = LoraTrainer().train(TrainRequest(config=run, train=examples(16), validation=[], output_dir=out))
    return [json.loads(line) for line in record.metrics_file.read_text().splitlines()
            if json.loads(line)["type"] == "train"]


def test_training_packs_by_default_to_the_same_losses_and_can_be_switched_off(wide_model_dir, tmp_path):
    packed = _train(wide_model_dir, tmp_path / "packed", logging_steps=1)
    padded = _train(wide_model_dir, tmp_path / "padded", logging_steps=1, shared_prefix_packing=False)
    assert [r["tokens"] for r in packed] == [r["tokens"] for r in padded]
    assert all(p["computed_tokens"] < q["computed_tokens"] for p, q in zip(packed, padded))
    assert [r["computed_tokens"] for r in padded] == [round(r["tokens"] / (1 - r["padding_ratio"])) for r in padded]
    assert [r["loss"] for r in packed] == pytest.approx([r["loss"] for r in padded], rel=1e-4)

