"""Engine pieces without a model: schedules, step plan, batching, atomic checkpoints, LR range test."""

from __future__ import annotations

import math

import pytest
import torch

from harness.config import RunConfig
from harness.training import LengthGroupedSampler, LrMultiplier, PaddingCollator, plan_steps
from harness.training.data import rank_batches
from harness.training.checkpoints import clear_incomplete, last_complete_checkpoint, publish
from harness.training.lr_range import RangeTest, suggest, write_svg


def test_warmup_defaults_to_five_percent_of_total_steps():
    config = RunConfig(base_model="x", micro_batch_size=2, gradient_accumulation_steps=8, num_epochs=3)
    plan = plan_steps(config, 2500)  # the seed's worked example: 469 steps, warmup ≈ 23
    assert plan.steps_per_epoch == 157 and plan.total_steps == 471
    assert plan.warmup_steps == int(0.05 * 471)
    assert plan_steps(RunConfig(base_model="x", warmup_steps=7), 100).warmup_steps == 7


def test_schedules_warm_up_then_decay_to_the_floor():
    cosine = LrMultiplier("cosine", total_steps=100, warmup_steps=10, floor=0.1)
    assert cosine(0) < cosine(5) < cosine(9) <= 1.0
    assert cosine(10) == pytest.approx(1.0)
    assert cosine(100) == pytest.approx(0.1) and min(cosine(s) for s in range(10, 101)) >= 0.1 - 1e-9
    linear = LrMultiplier("linear", 100, 0)
    assert linear(50) == pytest.approx(0.5)
    assert LrMultiplier("constant_with_warmup", 100, 10)(80) == 1.0
    restarts = LrMultiplier("cosine_with_restarts", 100, 0, floor=0.0, num_cycles=3)
    values = [restarts(s) for s in range(100)]
    jumps = [s for s in range(1, 100) if values[s] > values[s - 1] + 0.5]
    assert len(jumps) == 2  # three cycles: two restarts


def test_length_grouping_cuts_padding_and_is_deterministic_per_epoch():
    lengths = [(i * 37) % 200 + 5 for i in range(256)]
    grouped = LengthGroupedSampler(lengths, batch_size=8, seed=1)
    order = list(grouped)
    assert sorted(order) == list(range(256)) and order == list(grouped)
    grouped.set_epoch(1)
    assert list(grouped) != order

    def padding(indices):
        slots = sum(8 * max(lengths[i] for i in indices[s:s + 8]) for s in range(0, len(indices), 8))
        return 1 - sum(lengths) / slots

    shuffled = list(torch.randperm(256, generator=torch.Generator().manual_seed(0)))
    assert padding(order) < 0.1 < padding([int(i) for i in shuffled])


def test_ranks_take_disjoint_shares_of_the_grouped_order_that_together_make_one_process_steps():
    lengths = [(i * 37) % 200 + 5 for i in range(64)]
    sampler = LengthGroupedSampler(lengths, batch_size=4, seed=3)
    order = list(sampler)
    micro = [order[i:i + 4] for i in range(0, len(order), 4)]
    shares = [rank_batches(sampler, 4, rank, 2) for rank in range(2)]
    # Rank r trains micro-batches r, r+2, ...: with gradient accumulation g, a step of two ranks
    # trains exactly the 2g micro-batches one process accumulates over for that step.
    assert shares == [micro[0::2], micro[1::2]]
    assert sorted(i for share in shares for batch in share for i in batch) == list(range(64))
    assert shares == [rank_batches(sampler, 4, rank, 2) for rank in range(2)]  # a pure function of seed, epoch
    sampler.set_epoch(1)
    assert rank_batches(sampler, 4, 0, 2) != shares[0]
    config = RunConfig(base_model="x", micro_batch_size=4, gradient_accumulation_steps=2)
    assert plan_steps(config, 64, world_size=2).steps_per_epoch == len(shares[0]) // 2 == 4


def test_uneven_shares_are_topped_up_so_every_rank_takes_the_same_steps():
    lengths = [(i * 37) % 200 + 5 for i in range(22)]  # 5 full micro-batches of 4 and one of 2
    sampler = LengthGroupedSampler(lengths, batch_size=4, seed=0)
    assert len(list(sampler)) == 22
    shares = [rank_batches(sampler, 4, rank, 3) for rank in range(3)]
    assert [len(share) for share in shares] == [2, 2, 2] and all(len(b) == 4 for s in shares for b in s)
    seen = [i for share in shares for batch in share for i in batch]
    assert set(seen) == set(range(22)) and len(seen) - len(set(seen)) == 2  # two examples trained twice
    assert set(shares[2][-1][2:]) == set(list(sampler)[:2])  # ... taken from the start of the epoch
    config = RunConfig(base_model="x", micro_batch_size=4, gradient_accumulation_steps=1)
    assert plan_steps(config, 22, world_size=3).steps_per_epoch == 2


def test_collator_pads_to_the_longest_row_and_masks_labels():
    batch = PaddingCollator(pad_token_id=0)([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                                             {"input_ids": [8], "labels": [8]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_only_published_checkpoints_count_as_complete(tmp_path):
    staged = tmp_path / ".staging" / "checkpoint-4"
    staged.mkdir(parents=True)
    (staged / "weights").write_text("w")
    publish(staged, tmp_path / "checkpoint-4")
    (tmp_path / "checkpoint-8").mkdir()  # a crash mid-save without staging would leave this
    (tmp_path / ".staging" / "checkpoint-12").mkdir(parents=True)
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    removed = {p.name for p in clear_incomplete(tmp_path)}
    assert removed == {"checkpoint-8", ".staging"}
    assert (tmp_path / "checkpoint-4" / "weights").read_text() == "w"


def test_lr_range_suggestion_is_the_steepest_descent(tmp_path):
    lrs = [10 ** (-7 + 6 * i / 59) for i in range(60)]
    # Flat, then a fall centred near 1e-4, then a blow-up.
    losses = [3 - 2 / (1 + math.exp(-(math.log10(lr) + 4) * 4)) + (5 if lr > 3e-2 else 0) for lr in lrs]
    best = suggest(lrs, losses)
    assert 3e-5 < best < 3e-4
    svg = write_svg(RangeTest(lrs, losses, best), tmp_path / "lr.svg").read_text()
    assert svg.startswith("<svg") and "polyline" in svg and "suggested" in svg


def test_loss_on_trained_positions_only_equals_the_models_own_loss(tiny_model_dir, tmp_path):
    """The engine skips logits where no label is trained; the loss value must not change."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    from harness.data.tokenize import encode
    from harness.training.engine import HarnessTrainer
    from harness.training.callbacks import StepStats
    from train_helpers import examples, settings

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    encoded = [encode(e, tokenizer, max_length=128) for e in examples(4)]
    batch = PaddingCollator(tokenizer.pad_token_id)([{"input_ids": e.input_ids, "labels": e.labels} for e in encoded])
    trainer = HarnessTrainer(model=model, args=TrainingArguments(str(tmp_path), report_to="none", use_cpu=True),
                             stats=StepStats(), run_config=settings(tiny_model_dir), extra_loss=None,
                             group_by_length=False, total_steps=1, warmup_steps=0)
    model.train()
    fast = trainer.compute_loss(model, dict(batch))
    reference = model(**batch).loss  # the model's own loss over every labelled position
    assert fast.item() == pytest.approx(reference.item(), rel=1e-5)
    fast.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_cpu_training_keeps_large_freed_blocks_for_reuse():
    """glibc maps every block above its threshold afresh (and faults its pages in again each step);
    after reuse_freed_memory a 64 MiB tensor comes from the heap instead."""
    import ctypes
    import sys

    from harness.training.allocator import reuse_freed_memory

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2  # glibc >= 2.33
    except (OSError, AttributeError):
        pytest.skip("needs glibc")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                          "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc.mallinfo2.restype = MallInfo2

    def mapped_blocks_for(nbytes: int) -> int:
        before = libc.mallinfo2().hblks
        block = torch.empty(nbytes, dtype=torch.uint8)
        after = libc.mallinfo2().hblks
        del block
        return after - before

    assert sys.platform.startswith("linux")
    assert reuse_freed_memory() is True
    assert reuse_freed_memory() is True  # idempotent
    assert mapped_blocks_for(64 << 20) == 0


@pytest.mark.parametrize("grouped, sampler", [(True, "LengthGroupedSampler"), (False, "SeededRandomSampler")])
def test_group_by_length_chooses_the_batch_order(tmp_path, tiny_model_dir, grouped, sampler):
    """Axolotl's group_by_length: batches of similar length by default here; false is a plain shuffle."""
    from transformers import TrainerCallback

    from harness import TrainRequest
    from harness.training import EngineOptions, attach_lora, load_for_training, run_training
    from train_helpers import examples, settings

    seen = []

    class Spy(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
            # accelerate wraps the loader: the engine's sampler sits inside its batch sampler.
            seen.append(type(train_dataloader.batch_sampler.sampler).__name__)

    config = settings(tiny_model_dir, max_steps=1, group_by_length=grouped)
    model, tokenizer = load_for_training(config, frozen=True)
    request = TrainRequest(config=config, train=examples(8), validation=[], output_dir=tmp_path / "run")
    run_training(request, attach_lora(model, config), tokenizer, EngineOptions(is_adapter=True, callbacks=(Spy(),)))
    assert seen == [sampler]
